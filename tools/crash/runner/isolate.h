// Fault isolation: each run of a campaign happens in a child process, so
// that an engine crash (SIGSEGV, an abort...) while it checks a crash image
// is a failure naming that image, and the campaign goes on. A pool file is
// untrusted input: any image must give an error, never a crash
// (docs/design.md, "Errors").
//
// The child reports through a shared memory page: live counts (for the
// progress line and the totals) and, per thread, what it is doing now (the
// crash path being checked, the fault case...); its failures come back
// through a pipe when it ends. When it dies of a signal, the parent turns
// what its threads were doing into a failure.
//
// Thread-safety: run_isolated() from one thread, with no other thread
// running but the progress line's (fork). doing_scope from any thread of
// the child.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tools/crash/runner/campaign.h"

namespace ferrite::crash {

// Runs `body` in a child process with a tally of its own, and folds what
// it found into `t`. When the child dies of a signal, `on_crash(doing,
// signal)` makes the failure from what its threads were doing (the
// workload's thread first).
void run_isolated(tally& t, const std::function<void(tally&)>& body,
                  const std::function<failure(const std::vector<std::string>& doing,
                                              const std::string& signal)>& on_crash);

// Records what the calling thread does for as long as it lives (in an
// isolated child; elsewhere it does nothing). Nested scopes restore the
// outer record when they end.
class doing_scope {
 public:
  explicit doing_scope(const std::string& what);
  ~doing_scope();
  doing_scope(const doing_scope&) = delete;
  doing_scope& operator=(const doing_scope&) = delete;

 private:
  std::string previous_;
  bool active_ = false;
};

}  // namespace ferrite::crash
