/** Removes a written batch from the audit stream: acknowledge its entries, then drop every acknowledged entry. */
import type { Redis } from 'ioredis';

/**
 * Acknowledges the space-separated ids in ARGV[2] and removes acknowledged entries from the
 * stream. Every entry up to this batch's last has been delivered, so below both ARGV[3]
 * (the id just after that last one) and the oldest entry still read-but-unacknowledged (by
 * any writer) everything is acknowledged, its rows committed: one XTRIM MINID removes it,
 * at about a third of Redis's cost of deleting each id. When an older entry is still
 * pending (another writer's batch, or a dead writer's until it is claimed), this batch's
 * ids are deleted one by one, so the stream always holds exactly the entries not yet
 * written. One argument for all ids costs the client far less than a command with
 * thousands; chunks of 500 keep unpack() within Lua's stack.
 */
const ACK_AND_REMOVE = `
local ids = {}
for id in string.gmatch(ARGV[2], '%S+') do ids[#ids + 1] = id end
for i = 1, #ids, 500 do
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids, i, math.min(i + 499, #ids)))
end
local keep = ARGV[3]
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
if pending[1] > 0 then
  local pms, pseq = string.match(pending[2], '(%d+)-(%d+)')
  local kms, kseq = string.match(keep, '(%d+)-(%d+)')
  pms, pseq, kms, kseq = tonumber(pms), tonumber(pseq), tonumber(kms), tonumber(kseq)
  if pms < kms or (pms == kms and pseq < kseq) then
    keep = pending[2]
    for i = 1, #ids, 500 do
      redis.call('XDEL', KEYS[1], unpack(ids, i, math.min(i + 499, #ids)))
    end
  end
end
redis.call('XTRIM', KEYS[1], 'MINID', keep)
return #ids`;

/** Compares stream ids (`ms-seq`) in stream order: negative when `a` comes before `b`. */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(Number) as [number, number];
  const [bMs, bSeq] = b.split('-').map(Number) as [number, number];
  return aMs - bMs || aSeq - bSeq;
}

/** The greatest of stream ids; reads return them in order, but the trim must not depend on it. */
function maxId(ids: readonly string[]): string {
  return ids.reduce((best, id) => (compareIds(id, best) > 0 ? id : best));
}

/** The stream id right after `id`: `ms-(seq+1)`. */
function nextId(id: string): string {
  const dash = id.indexOf('-');
  return `${id.slice(0, dash)}-${Number(id.slice(dash + 1)) + 1}`;
}

/** Acknowledges `ids` (one read's entries, rows committed) in `group` and removes what is acknowledged from `streamKey`. */
export async function ackAndRemove(redis: Redis, streamKey: string, group: string, ids: readonly string[]): Promise<void> {
  await redis.call('EVAL', ACK_AND_REMOVE, 1, streamKey, group, ids.join(' '), nextId(maxId(ids)));
}
