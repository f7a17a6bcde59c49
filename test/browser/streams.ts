// Runs in headless Chromium (test/browser/browser.test.ts bundles it with the package's browser build):
// a capture fetched from the server, annotated as it streams in (`fetch(url).body.pipeThrough(annotate())`),
// and the output read back with readCapture() from a web ReadableStream; the outcome goes to window.result.
import { annotate, readCapture } from "packet-traits/capture";

async function main() {
  const response = await fetch("/capture/in.pcap");
  const annotated = response.body!.pipeThrough(annotate({ count: 19_000 }));
  // Tee the output: its bytes (compared with `pcap annotate -c 19000` by the test) and the packets read back.
  const [forBytes, forPackets] = annotated.tee();
  const parts: Uint8Array[] = [];
  const collected = (async () => {
    const reader = forBytes.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  })();
  const packets: Array<[number, string, string]> = [];
  let count = 0;
  for await (const packet of readCapture(forPackets)) {
    count++;
    if (packet.index % 5000 === 0 || packet.index === 18_999)
      packets.push([packet.index, String(packet.timestamp), packet.comments.at(-1) ?? ""]);
  }
  await collected;
  const length = parts.reduce((n, p) => n + p.length, 0),
    bytes = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return {
    count,
    packets,
    length,
    sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
    // A malformed capture errors the stream with the byte offset.
    error: await new Response(new Uint8Array([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]))
      .body!.pipeThrough(annotate())
      .getReader()
      .read()
      .then(
        () => "no error",
        (e: Error) => e.message,
      ),
  };
}

(window as unknown as { result: Promise<unknown> }).result = main().catch((e: Error) => ({
  error: `${e.message}\n${e.stack}`,
}));
