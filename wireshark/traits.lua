-- packet-traits for Wireshark and tshark (4.0 and later, Lua 5.2): shows each packet's traits by
-- name and registers display-filter fields for them.
--
-- Wireshark 4.0 does not hand the custom options of a pcapng Enhanced Packet Block to dissectors,
-- so this plugin reads the comment `packet-traits pcap annotate --comment` (and `xdp run`) writes
-- right after the binary traits option: "traits: NAME=VALUE ... crc32:XXXXXXXX" (names from the
-- capture's registry, a key without one by its number; 2- and 4-byte values in 0x-hex, 8-byte values
-- in decimal, flags as NAME alone), ending with the CRC-32 of the text before " crc32:". Since the
-- plugin cannot see the option, that check is how it knows our comment: a comment without it (a
-- user's own "traits: ..." note, or one altered) is never read. A value that does not parse exactly,
-- or does not fit its size, is an expert-info error in the tree, and no field.
--
-- Fields: traits.packet_id, traits.rx_hash, traits.rss_hash_type, traits.vlan_tci,
-- traits.vlan_proto, traits.rx_timestamp (the keys annotate always writes), and for every entry
-- traits.name and traits.value (so other keys filter as traits.name == "tenant" && traits.value == 42).
--
-- Install: copy this file to Wireshark's personal Lua plugins folder (Help > About > Folders,
-- e.g. ~/.local/lib/wireshark/plugins/), or run tshark -X lua_script:traits.lua.

local traits = Proto("traits", "Packet traits")

-- The keys with fields of their own: the field, and how their values are written (decimal: 8 bytes;
-- hex: at most `bits` bits).
local known = {
  packet_id = { field = ProtoField.uint64("traits.packet_id", "packet_id"), decimal = true },
  rx_hash = { field = ProtoField.uint32("traits.rx_hash", "rx_hash", base.HEX), bits = 32 },
  rss_hash_type = { field = ProtoField.uint32("traits.rss_hash_type", "rss_hash_type", base.HEX), bits = 32 },
  vlan_tci = { field = ProtoField.uint16("traits.vlan_tci", "vlan_tci", base.HEX), bits = 16 },
  vlan_proto = { field = ProtoField.uint16("traits.vlan_proto", "vlan_proto", base.HEX), bits = 16 },
  rx_timestamp = { field = ProtoField.uint64("traits.rx_timestamp", "rx_timestamp"), decimal = true },
}
local entry_name = ProtoField.string("traits.name", "Name")
local entry_value = ProtoField.uint64("traits.value", "Value")

local fields = { entry_name, entry_value }
for _, key in pairs(known) do fields[#fields + 1] = key.field end
traits.fields = fields

local bad_value = ProtoExpert.new("traits.bad_value", "Malformed trait", expert.group.MALFORMED, expert.severity.ERROR)
local not_ours = ProtoExpert.new(
  "traits.not_ours",
  "traits: comment not written by packet-traits",
  expert.group.COMMENTS_GROUP,
  expert.severity.NOTE
)
traits.experts = { bad_value, not_ours }

local comments = Field.new("frame.comment")

-- CRC-32 (IEEE 802.3, as zlib computes it) of a string's bytes.
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    c = bit32.band(c, 1) == 1 and bit32.bxor(0xEDB88320, bit32.rshift(c, 1)) or bit32.rshift(c, 1)
  end
  crc_table[i] = c
end
local function crc32(text)
  local c = 0xFFFFFFFF
  for i = 1, #text do
    c = bit32.bxor(crc_table[bit32.band(bit32.bxor(c, text:byte(i)), 0xFF)], bit32.rshift(c, 8))
  end
  return bit32.bxor(c, 0xFFFFFFFF)
end

-- The entries of our comment (the text between "traits:" and " crc32:"), or nil if `text` is not
-- one of ours: a traits: comment whose check holds.
local function our_entries(text)
  local body, check = text:match("^(traits:.-) crc32:(%x%x%x%x%x%x%x%x)$")
  if not body or string.format("%08x", crc32(body)) ~= check:lower() then return nil end
  return body:sub(8)
end

local MAX_U64 = "18446744073709551615"

-- A value as the comment writes it, checked: returns the value (a UInt64) and nil, or nil and why it
-- is not read. `key` is the known key's description, if the name has one.
local function parse_value(name, raw, key)
  if raw:match("^0x%x+$") then
    if key and key.decimal then return nil, name .. " is 8 bytes, written in decimal, not 0x-hex" end
    local digits = raw:sub(3):gsub("^0+", "")
    local bits = key and key.bits or 32
    if #digits > bits / 4 then return nil, raw .. " does not fit " .. name .. "'s " .. bits .. " bits" end
    return UInt64.fromhex(digits == "" and "0" or digits), nil
  end
  if raw:match("^%d+$") then
    if key and not key.decimal then
      return nil, name .. " is " .. key.bits / 8 .. " bytes or fewer, written in 0x-hex, not decimal"
    end
    local digits = raw:gsub("^0+", "")
    if #digits > #MAX_U64 or (#digits == #MAX_U64 and digits > MAX_U64) then
      return nil, raw .. " does not fit " .. name .. "'s 8 bytes"
    end
    local value = UInt64(0)
    for digit in digits:gmatch("%d") do value = value * 10 + tonumber(digit) end
    return value, nil
  end
  return nil, "\"" .. raw .. "\" is not a decimal or 0x-hex integer"
end

-- Adds one entry (a token of our comment) to the tree: its fields, or an expert-info error and none.
local function add_entry(subtree, token, seen)
  local name, raw = token:match("^([^=]*)=(.*)$")
  name = name or token
  local problem
  if not (name:match("^[a-z][a-z0-9_.-]*$") and #name <= 63) and not (name:match("^%d%d?$") and tonumber(name) <= 63) then
    problem = "\"" .. name .. "\" is not a key's name or number"
  elseif seen[name] then
    problem = name .. " appears twice"
  end
  local key, value = known[name], UInt64(1)
  if not problem and raw == nil then
    if key then problem = name .. " is not a flag: it needs a value" end
  elseif not problem then
    value, problem = parse_value(name, raw, key)
  end
  if problem then
    subtree:add_proto_expert_info(bad_value, "Malformed trait " .. token .. ": " .. problem)
    return
  end
  seen[name] = true
  local item = subtree:add(entry_name, name):set_text(name .. ": " .. (raw or "(flag)"))
  item:add(entry_value, value):set_hidden()
  if key then
    subtree:add(key.field, key.decimal and value or value:tonumber()):set_hidden()
  end
end

function traits.dissector(_, _, tree)
  local subtree, read
  for _, comment in ipairs({ comments() }) do
    local text = tostring(comment.value)
    if text:sub(1, 7) == "traits:" then
      subtree = subtree or tree:add(traits):set_text("Packet traits")
      local entries = our_entries(text)
      if entries and not read then
        read = {}
        for token in entries:gmatch("%S+") do add_entry(subtree, token, read) end
      else
        subtree:add_proto_expert_info(
          not_ours,
          entries and "Not read: a second traits: comment with packet-traits' check (only the first is read)"
            or "Not read: a traits: comment without packet-traits' crc32 check (a user's comment, or one altered)"
        )
      end
    end
  end
end

register_postdissector(traits)
