-- Wireshark / tshark dissector for skysim's overlay wire format
-- (protocol/wire.h is the reference; the comments here follow it).
--
--   tshark -X lua_script:tools/wireshark/skysim.lua -r results/RUN/run.pcapng -Y skysim
--   wireshark -X lua_script:tools/wireshark/skysim.lua results/RUN/run.pcapng
--
-- UDP datagrams: 2-byte frame id, a function byte (only the bits of mask
-- 0x8f mean something: 0x02 signalling, 0x77 NAck), a 4-byte IV, then the
-- RC4-obfuscated body and a CRC32 of the body inside the RC4 stream. The
-- key is derivable from the packet: CRC32(source IP, destination IP, frame
-- id) XOR IV, expanded to 80 bytes by splitmix64. The sender uses the
-- addresses it believes in (its public address), so the body decodes where
-- the capture shows those addresses (public hosts, the core); elsewhere
-- (behind a NAT, on the sender's own link) the CRC does not match and the
-- body is shown as obfuscated. A decoded body starts with the version and
-- the message type; call messages add their kind and call id.
--
-- Media datagrams (protocol/call.c, a18): the frame id is the low 16 bits
-- of the call's session id, the function (mask 0x8f) is 0x0d, then the
-- AES-256 encrypted voice packet (the session key is not on the wire).
--
-- TCP streams: a 14-byte clear hello in each direction (key seed, magic
-- 0x5a, version, role), then frames of a 2-byte length and AES-256-CTR
-- ciphertext (not decrypted here: the key is a SHA-256 of the seed).

local skysim = Proto("skysim", "skysim overlay")

local types = {
    [1] = "PROBE", [2] = "PROBE_ACK", [3] = "PING", [4] = "PONG", [5] = "STUN_ASSIST",
    [6] = "SEARCH_Q", [7] = "SEARCH_A", [8] = "SN_NOTE", [9] = "CALL_UDP", [10] = "INDEX_PULL",
    [11] = "SN_RING",
    [16] = "CONNECT", [17] = "CONNECT_ACK", [18] = "KEEPALIVE", [19] = "KEEPALIVE_ACK",
    [20] = "HC_REQUEST", [21] = "HC_ENTRIES", [22] = "SN_HELLO", [23] = "FORWARD", [24] = "SHED",
    [25] = "LOGIN_REQ", [26] = "LOGIN_CERT", [27] = "LOGIN_FAIL", [28] = "PROMOTE", [29] = "SN_GOSSIP", [32] = "SEARCH_REQ",
    [33] = "SEARCH_RESULT", [34] = "SEARCH_NODES", [35] = "SEARCH_MORE", [36] = "ANNOUNCE",
    [37] = "PRESENCE", [38] = "BUDDY_LIST", [48] = "CALL", [49] = "CALL_MEDIA",
}
local call_kinds = {
    [1] = "LOCATE", [2] = "LOCATED", [3] = "INVITE", [4] = "ANSWER", [5] = "BUSY", [6] = "PATH",
    [7] = "RELAY", [8] = "BYE", [9] = "PUNCH", [10] = "PUNCH_ACK", [11] = "RELAY_BIND",
    [12] = "RELAY_BOUND", [13] = "RELAY_REFUSED", [14] = "NAT_NOTE", [15] = "PUNCH_GO",
}
local roles = { [0] = "client", [1] = "supernode", [2] = "bootstrap", [3] = "login_server",
                [4] = "web_server", [5] = "gateway" }

local f = {
    frame_id = ProtoField.uint16("skysim.frame_id", "Frame id", base.HEX),
    func = ProtoField.uint8("skysim.function", "Function", base.HEX),
    func_kind = ProtoField.uint8("skysim.function.kind", "Function (mask 0x8f)", base.HEX, nil, 0x8f),
    iv = ProtoField.uint32("skysim.iv", "IV", base.HEX),
    obfuscated = ProtoField.bytes("skysim.obfuscated", "Obfuscated body and CRC"),
    key_seed = ProtoField.uint32("skysim.key_seed", "RC4 key seed", base.HEX),
    crc_ok = ProtoField.bool("skysim.crc_ok", "Body decoded (CRC matches)"),
    body = ProtoField.bytes("skysim.body", "Body"),
    version = ProtoField.uint8("skysim.version", "Version"),
    type = ProtoField.uint8("skysim.type", "Type", base.DEC, types),
    call_kind = ProtoField.uint8("skysim.call.kind", "Call kind", base.DEC, call_kinds),
    call_id = ProtoField.uint32("skysim.call.id", "Call id", base.HEX),
    fields = ProtoField.bytes("skysim.fields", "Fields"),
    nack_version = ProtoField.uint8("skysim.nack.version", "NAck version"),
    nack_reason = ProtoField.uint8("skysim.nack.reason", "NAck reason", base.DEC, { [0] = "bad CRC" }),
    nack_ip = ProtoField.ipv4("skysim.nack.seen_ip", "Sender as seen: address"),
    nack_port = ProtoField.uint16("skysim.nack.seen_port", "Sender as seen: port"),
    hello_seed = ProtoField.uint32("skysim.hello.seed", "Stream key seed", base.HEX),
    hello_magic = ProtoField.uint8("skysim.hello.magic", "Hello magic", base.HEX),
    hello_role = ProtoField.uint8("skysim.hello.role", "Role", base.DEC, roles),
    tcp_len = ProtoField.uint16("skysim.tcp.length", "Frame length"),
    media = ProtoField.bytes("skysim.media", "Voice packet (AES-256)"),
    tcp_cipher = ProtoField.bytes("skysim.tcp.ciphertext", "Frame (AES-256-CTR)"),
}
skysim.fields = {}
for _, v in pairs(f) do table.insert(skysim.fields, v) end

local ip_src = Field.new("ip.src")
local ip_dst = Field.new("ip.dst")

-- CRC-32 (reflected 0xEDB88320) of a byte list, as protocol/crypto.c.
local function crc32(bytes)
    local crc = 0xffffffff
    for _, b in ipairs(bytes) do
        crc = bit32.bxor(crc, b)
        for _ = 1, 8 do
            local lsb = bit32.band(crc, 1)
            crc = bit32.rshift(crc, 1)
            if lsb == 1 then crc = bit32.bxor(crc, 0xedb88320) end
        end
    end
    return bit32.bnot(crc)
end

local function be32(n) -- big-endian bytes of a 32-bit number
    return { bit32.rshift(n, 24), bit32.band(bit32.rshift(n, 16), 255),
             bit32.band(bit32.rshift(n, 8), 255), bit32.band(n, 255) }
end

-- The 80-byte RC4 key of a 32-bit seed (splitmix64, protocol/wire.c).
local golden = UInt64.fromhex("9E3779B97F4A7C15")
local m1 = UInt64.fromhex("BF58476D1CE4E5B9")
local m2 = UInt64.fromhex("94D049BB133111EB")
local function rc4_key(seed)
    local x = UInt64.new(seed, 0)
    local key = {}
    for _ = 1, 10 do
        x = x + golden
        local z = x
        z = z:bxor(z:rshift(30)) * m1
        z = z:bxor(z:rshift(27)) * m2
        z = z:bxor(z:rshift(31))
        for j = 0, 7 do
            table.insert(key, z:rshift(8 * j):band(UInt64.new(255, 0)):tonumber())
        end
    end
    return key
end

local function rc4(key, data)
    local s = {}
    for i = 0, 255 do s[i] = i end
    local j = 0
    for i = 0, 255 do
        j = (j + s[i] + key[(i % #key) + 1]) % 256
        s[i], s[j] = s[j], s[i]
    end
    local out, i = {}, 0
    j = 0
    for k = 1, #data do
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out[k] = bit32.bxor(data[k], s[(s[i] + s[j]) % 256])
    end
    return out
end

local function ip_number(field)
    local v = field()
    if not v then return nil end
    local a, b, c, d = tostring(v.value):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if not a then return nil end
    return ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
end

-- A decoded body: version, type, and for call messages kind and call id.
local function body_tree(tree, tvb, label)
    local t = tree:add(f.body, tvb())
    t:set_text("Body (" .. label .. ")")
    if tvb:len() < 2 then return "short body" end
    t:add(f.version, tvb(0, 1))
    t:add(f.type, tvb(1, 1))
    local ty = tvb(1, 1):uint()
    local name = types[ty] or ("type " .. ty)
    if (ty == 9 or ty == 48) and tvb:len() >= 7 then
        t:add(f.call_kind, tvb(2, 1))
        t:add(f.call_id, tvb(3, 4))
        name = name .. " " .. (call_kinds[tvb(2, 1):uint()] or "?")
        if tvb:len() > 7 then t:add(f.fields, tvb(7)) end
    elseif tvb:len() > 2 then
        t:add(f.fields, tvb(2))
    end
    return name
end

local function dissect_udp(tvb, pinfo, tree)
    local len = tvb:len()
    local t = tree:add(skysim, tvb(), "skysim overlay (UDP)")
    pinfo.cols.protocol = "skysim"
    t:add(f.frame_id, tvb(0, 2))
    t:add(f.func, tvb(2, 1))
    t:add(f.func_kind, tvb(2, 1))
    if bit32.band(tvb(2, 1):uint(), 0x8f) == 0x0d then
        t:add(f.media, tvb(3))
        pinfo.cols.info = string.format("media, session %04x, %d bytes", tvb(0, 2):uint(), len - 3)
        return len
    end
    if tvb(2, 1):uint() == 0x77 then
        t:add(f.nack_version, tvb(3, 1))
        t:add(f.nack_reason, tvb(4, 1))
        t:add(f.nack_ip, tvb(5, 4))
        t:add(f.nack_port, tvb(9, 2))
        pinfo.cols.info = string.format("NAck frame %04x: you are %s:%d", tvb(0, 2):uint(),
                                        tostring(tvb(5, 4):ipv4()), tvb(9, 2):uint())
        return len
    end
    t:add(f.iv, tvb(3, 4))
    t:add(f.obfuscated, tvb(7))
    local src, dst = ip_number(ip_src), ip_number(ip_dst)
    local info = "obfuscated (key not derivable here)"
    if src and dst then
        local b = be32(src)
        for _, x in ipairs(be32(dst)) do table.insert(b, x) end
        table.insert(b, tvb(0, 1):uint())
        table.insert(b, tvb(1, 1):uint())
        local seed = bit32.bxor(crc32(b), tvb(3, 4):uint())
        t:add(f.key_seed, tvb(3, 4), seed):set_generated()
        local data = {}
        for k = 7, len - 1 do table.insert(data, tvb(k, 1):uint()) end
        local plain = rc4(rc4_key(seed), data)
        local n = #plain - 4
        local body = {}
        for k = 1, n do body[k] = plain[k] end
        local crc = ((plain[n + 1] * 256 + plain[n + 2]) * 256 + plain[n + 3]) * 256 + plain[n + 4]
        local ok = crc32(body) == crc
        t:add(f.crc_ok, tvb(7), ok):set_generated()
        if ok then
            local ba = ByteArray.new()
            ba:set_size(n)
            for k = 1, n do ba:set_index(k - 1, body[k]) end
            info = body_tree(t, ba:tvb("skysim body"), "de-obfuscated")
        end
    end
    pinfo.cols.info = string.format("frame %04x %s", tvb(0, 2):uint(), info)
    return len
end

-- Whether a UDP payload has the envelope's shape (and is not STUN).
local function udp_heuristic(tvb, pinfo, tree)
    local len = tvb:len()
    if len < 3 then return false end
    local fn = tvb(2, 1):uint()
    if len >= 8 and tvb(4, 4):uint() == 0x2112a442 then return false end -- STUN cookie
    if len > 3 and bit32.band(fn, 0x8f) == 0x0d then
        dissect_udp(tvb, pinfo, tree)
        return true
    end
    if len < 7 then return false end
    local nack = len == 11 and fn == 0x77 and tvb(3, 1):uint() == 1
    local signal = len >= 13 and bit32.band(fn, 0x8f) == 0x02
    if not (nack or signal) then return false end
    dissect_udp(tvb, pinfo, tree)
    return true
end

-- TCP: a hello, then length-prefixed frames (reassembled across segments).
local function tcp_pdu_len(tvb, pinfo, offset)
    local left = tvb:len() - offset
    if left >= 14 and tvb(offset + 4, 1):uint() == 0x5a and tvb(offset + 5, 1):uint() == 1 then
        return 14
    end
    if left < 2 then return -DESEGMENT_ONE_MORE_SEGMENT end
    return 2 + tvb(offset, 2):uint()
end

local function tcp_pdu(tvb, pinfo, tree)
    pinfo.cols.protocol = "skysim"
    local t = tree:add(skysim, tvb(), "skysim overlay (TCP)")
    if tvb:len() == 14 and tvb(4, 1):uint() == 0x5a and tvb(5, 1):uint() == 1 then
        t:add(f.hello_seed, tvb(0, 4))
        t:add(f.hello_magic, tvb(4, 1))
        t:add(f.version, tvb(5, 1))
        t:add(f.hello_role, tvb(6, 1))
        pinfo.cols.info = "hello (" .. (roles[tvb(6, 1):uint()] or "?") .. ")"
    else
        t:add(f.tcp_len, tvb(0, 2))
        t:add(f.tcp_cipher, tvb(2))
        pinfo.cols.info = string.format("encrypted frame of %d bytes", tvb(0, 2):uint())
    end
    return tvb:len()
end

function skysim.dissector(tvb, pinfo, tree)
    if pinfo.port_type == 2 then -- TCP
        dissect_tcp_pdus(tvb, tree, 2, tcp_pdu_len, tcp_pdu, true)
        return tvb:len()
    end
    if udp_heuristic(tvb, pinfo, tree) then return tvb:len() end
    return 0 -- not the envelope (STUN, say): other dissectors may try
end

-- A TCP stream is ours when its first segment is a hello: the stream
-- keeps the dissector from then on.
local function tcp_heuristic(tvb, pinfo, tree)
    if tvb:len() < 14 or tvb(4, 1):uint() ~= 0x5a or tvb(5, 1):uint() ~= 1 then return false end
    pinfo.conversation = skysim
    skysim.dissector(tvb, pinfo, tree)
    return true
end

skysim:register_heuristic("udp", udp_heuristic)
skysim:register_heuristic("tcp", tcp_heuristic)
-- The bootstrap supernodes' and the gateway's ports: other dissectors that
-- claim them (Pathport on 33033) would misread the frames.
DissectorTable.get("udp.port"):add(33033, skysim)
DissectorTable.get("udp.port"):add(12340, skysim)
DissectorTable.get("tcp.port"):add(33033, skysim)
