// Mutations: deliberate durability bugs for the crash runner's self-test
// (`ferrite-crash --self-test`, docs/crash.md).
//
// A mutation is switched on at run time, so the self-test exercises the same
// build as everything else (no build macro, no second library). Programs
// other than the self-test never leave `none`; then each hook in the engine
// is one relaxed load and a compare.
//
//   drop_commit_fence     commit returns without the fence (cache-line
//                         media) or the group-commit sync (page media) that
//                         makes its record durable: breaks invariant 3.
//   marker_before_data    the record header acts as a commit marker of its
//                         own (its checksum covers the header only, as in
//                         designs with a separate commit flag) and is made
//                         durable before the entries are written: a crash
//                         in between replays entries that are not there.
//   skip_checksum         recovery accepts a record without comparing its
//                         checksum, so a torn record is replayed: breaks
//                         invariant 4.
//   early_checkpoint_lsn  a checkpoint stores the superblock (the new
//                         checkpoint LSN) before the images it applied are
//                         durable: breaks invariant 5.
//   release_before_lsn    a transaction that took locks releases them
//                         before its record has an LSN (then yields for a
//                         millisecond, so a waiter can get ahead): the next
//                         holder can commit first what it read from this
//                         one, and a crash can keep it without its cause.
//   apply_before_log_durable  recovery applies the records it found to the
//                         heap without first making the log durable: after
//                         a process crash the records may sit only in the
//                         page cache, and a power failure during recovery
//                         can keep some of a record's images and lose the
//                         record (invariant 2).
//   give_back_changed     the memory budget gives pages back without
//                         comparing them with the durable view and without
//                         skipping the pages of records not checkpointed:
//                         the working view loses committed and running
//                         transactions' bytes, and later commits carry the
//                         stale bytes read back from the file.
//
// Thread-safety: the switch is an atomic; set it while no pool is open.
#pragma once

namespace ferrite::detail {

enum class mutation {
  none,
  drop_commit_fence,
  marker_before_data,
  skip_checksum,
  early_checkpoint_lsn,
  release_before_lsn,
  apply_before_log_durable,
  give_back_changed,
};

mutation active_mutation() noexcept;
void set_mutation(mutation m) noexcept;

}  // namespace ferrite::detail
