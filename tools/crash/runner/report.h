// What ferrite-crash prints: the campaign summary (text or JSON), the
// self-test verdicts, and a progress line on stderr while it runs (only
// when stderr is a terminal).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <thread>

#include "tools/crash/runner/campaign.h"

namespace ferrite::crash {

// Redraws one line on stderr four times a second from its own thread:
// activity, runs done (or time left in --long), states, failures, elapsed.
class progress_line {
 public:
  // `planned_runs` > 0: a bar over runs; `minutes` > 0: a bar over time.
  progress_line(const tally& t, bool enabled, std::uint64_t planned_runs, double minutes);
  ~progress_line();  // erases the line
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;
  void advance() { done_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void draw();
  const tally& tally_;
  std::uint64_t planned_;
  double minutes_;
  std::atomic<std::uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

void print_text(std::ostream& out, const campaign_result& r, const campaign_options& o);
void print_json(std::ostream& out, const campaign_result& r);
void print_text(std::ostream& out, const self_test_result& r);
void print_json(std::ostream& out, const self_test_result& r);

}  // namespace ferrite::crash
