#!/usr/bin/env node
/** The `packet-traits` executable: runs the command line and exits with its code (see main.ts). */
import { main } from "./main.js";

void Promise.resolve(main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
