-- packet-traits for Wireshark and tshark (4.0 and later, Lua 5.2): shows each packet's traits by
-- name and registers display-filter fields for them.
--
-- Wireshark 4.0 does not hand the custom options of a pcapng Enhanced Packet Block to dissectors,
-- so this plugin reads the comment `packet-traits pcap annotate --comment` (and `xdp run`) writes
-- beside the binary traits option: "traits: NAME=VALUE ..." (names from the capture's registry; 2- and
-- 4-byte values in 0x-hex, 8-byte values in decimal, flags as NAME alone).
--
-- Fields: traits.packet_id, traits.rx_hash, traits.rss_hash_type, traits.vlan_tci,
-- traits.vlan_proto, traits.rx_timestamp (the keys annotate always writes), and for every entry
-- traits.name and traits.value (so other keys filter as traits.name == "tenant" && traits.value == 42).
--
-- Install: copy this file to Wireshark's personal Lua plugins folder (Help > About > Folders,
-- e.g. ~/.local/lib/wireshark/plugins/), or run tshark -X lua_script:traits.lua.

local traits = Proto("traits", "Packet traits")

local known = {
  packet_id = ProtoField.uint64("traits.packet_id", "packet_id"),
  rx_hash = ProtoField.uint32("traits.rx_hash", "rx_hash", base.HEX),
  rss_hash_type = ProtoField.uint32("traits.rss_hash_type", "rss_hash_type", base.HEX),
  vlan_tci = ProtoField.uint16("traits.vlan_tci", "vlan_tci", base.HEX),
  vlan_proto = ProtoField.uint16("traits.vlan_proto", "vlan_proto", base.HEX),
  rx_timestamp = ProtoField.uint64("traits.rx_timestamp", "rx_timestamp"),
}
local entry_name = ProtoField.string("traits.name", "Name")
local entry_value = ProtoField.uint64("traits.value", "Value")

local fields = { entry_name, entry_value }
for _, field in pairs(known) do fields[#fields + 1] = field end
traits.fields = fields

local comments = Field.new("frame.comment")

-- A value as written in the comment ("0x2a" or "42"; "" for a flag) as a UInt64.
local function parse_value(text)
  if text == "" then return UInt64(1) end
  if text:sub(1, 2) == "0x" then return UInt64.fromhex(text:sub(3)) end
  local value = UInt64(0)
  for digit in text:gmatch("%d") do value = value * 10 + tonumber(digit) end
  return value
end

function traits.dissector(tvb, pinfo, tree)
  for _, comment in ipairs({ comments() }) do
    local text = tostring(comment.value)
    if text:sub(1, 8) == "traits: " then
      local subtree = tree:add(traits):set_text("Packet traits")
      for token in text:sub(9):gmatch("%S+") do
        local name, raw = token:match("^([^=]+)=(.*)$")
        name, raw = name or token, raw or ""
        local value = parse_value(raw)
        local item = subtree:add(entry_name, name):set_text(name .. ": " .. (raw == "" and "(flag)" or raw))
        item:add(entry_value, value):set_hidden()
        local field = known[name]
        if field then
          if name == "packet_id" or name == "rx_timestamp" then
            subtree:add(field, value):set_hidden()
          else
            subtree:add(field, value:tonumber()):set_hidden()
          end
        end
      end
    end
  end
end

register_postdissector(traits)
