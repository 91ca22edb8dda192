// Spreads hot index partitions: a stable small hash of an id picks one of SHARDS partitions.
import { SHARDS } from './tables';

export function shardOf(id: string, shards = SHARDS): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return (h >>> 0) % shards;
}

export const allShards = (shards = SHARDS) => Array.from({ length: shards }, (_, i) => i);
