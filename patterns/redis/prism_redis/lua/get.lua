#!lua flags=no-writes
-- One round trip for a batch of gets: the fields val, ver, exp of every item hash, in
-- KEYS order (absent fields come back as nil). Loaded by prism_redis/scripts.py and
-- compiled into the Rust core (proxy/engine/src/backend/redis), so both sides run this
-- very script under the same SHA1.
local out = {}
for i, k in ipairs(KEYS) do
  out[i] = redis.call('HMGET', k, 'val', 'ver', 'exp')
end
return out
