/**
 * Partition ownership within a consumer group. Redis hands the entries of one stream to any
 * consumer of a group, which would break per-key order, so each partition of a group is owned by
 * one member at a time through a lease key (value: the member id, expiry: the visibility timeout).
 *
 * Each member runs {@link HEARTBEAT_SCRIPT} every `heartbeatMs`, atomically: it drops members whose
 * membership expired, renews its own, and computes the fair share from the sorted member ids
 * (partition p belongs to member p mod n). It renews the leases it holds and takes the free ones of
 * its share. Leases it holds outside its share are the caller's to give up, once their messages in
 * flight are settled, with {@link RELEASE_SCRIPT}; a member that crashed loses its leases when they
 * expire. Times come from the server's clock (`TIME`), so members' clocks never disagree.
 */

/**
 * KEYS: the members set, then the lease of each partition in order. ARGV: member id, lease ms.
 * Returns [partitions held (renewed or taken), partitions of the fair share].
 */
export const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me = ARGV[1]
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, me)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(members)
local index = 0
for i, member in ipairs(members) do
  if member == me then index = i - 1 end
end
local held = {}
local share = {}
for p = 0, #KEYS - 2 do
  local key = KEYS[p + 2]
  local mine = (p % #members) == index
  local owner = redis.call('GET', key)
  if owner == me then
    redis.call('PEXPIRE', key, ttl)
    held[#held + 1] = p
  elseif (not owner) and mine then
    redis.call('SET', key, me, 'PX', ttl)
    held[#held + 1] = p
  end
  if mine then share[#share + 1] = p end
end
return {held, share}
`;

/** KEYS: leases to give up. ARGV: member id. Deletes those still held by the member. */
export const RELEASE_SCRIPT = `
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
`;

/** KEYS: the members set, then every lease. ARGV: member id. Leaves the group and frees its leases. */
export const LEAVE_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
`;
