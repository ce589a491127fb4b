/*
 * redis/slot.h: the hash slot of a key, as Redis Cluster computes it.
 *
 * Overview
 * ========
 * A cluster splits the keyspace into 16,384 hash slots; every key belongs
 * to one slot and every slot to one master. The slot of a key is
 *   CRC16(k) mod 16384
 * where CRC16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no
 * reflection, no final xor: the cluster specification's reference code,
 * `123456789` gives 0x31C3) and k is the whole key, unless the key holds a
 * hash tag: if it has a `{`, and a `}` somewhere after the first `{`, and
 * at least one byte between them, k is only those bytes (between the first
 * `{` and the first `}` after it). Hash tags let a caller put related keys
 * in one slot, which multi-key commands and MULTI/EXEC need:
 *   {user1000}.following  {user1000}.followers   same slot ("user1000")
 *   foo{}{bar}            the whole key (the first {...} is empty)
 *   foo{{bar}}zap         "{bar"
 *   foo{bar}{zap}         "bar"
 *
 * Usage
 * =====
 *   unsigned s = mt__redis_slot(key, len);       0 .. 16383
 * The public mt_redis_key_slot() (redis.h) is the same function on an
 * mt_redis_bytes.
 *
 * Implementation notes
 * ====================
 * A 256-entry table, one lookup per byte (the specification's own code):
 * routing computes this for every item of every bulk call, so it must be
 * a few cycles per byte. The table is the polynomial's, generated and
 * checked against a bitwise CRC in tests/redis/test_slot.c. The tag
 * search is memchr, so a long key without `{` costs one scan.
 */
#ifndef MTPOOL_REDIS_SLOT_H
#define MTPOOL_REDIS_SLOT_H

#include <stddef.h>
#include <stdint.h>

/* Slots in a Redis Cluster; slot numbers are 0 .. MT_REDIS_SLOTS - 1. */
#define MT_REDIS_SLOTS 16384u

/* CRC-16/XMODEM of len bytes at p (p may be NULL when len is 0). */
uint16_t mt__redis_crc16(const void *p, size_t len);

/* The hash slot of the key (len bytes at p; p may be NULL when len is 0),
 * honouring a non-empty hash tag as described above. */
unsigned mt__redis_slot(const void *p, size_t len);

#endif /* MTPOOL_REDIS_SLOT_H */
