// A fixed set of checker threads fed through a bounded queue.
//
// The power-failure runs take crash images on the workload's thread (inside
// the device's barrier hook, in the middle of a commit) and check them on
// these threads: a checker opens pools and runs transactions, which the
// workload's thread cannot do while its own transaction is committing.
// The bound keeps the number of images held in memory small.
//
// Thread-safety: submit() from any thread (the barrier hook runs on the
// thread that reaches a barrier: a workload's own threads, a pool's
// background checkpointer); drain() once nothing submits any more.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ferrite::crash {

class job_queue {
 public:
  // REQUIRES: threads >= 1.
  job_queue(unsigned threads, std::size_t capacity);
  ~job_queue();  // finishes every job, then joins
  job_queue(const job_queue&) = delete;
  job_queue& operator=(const job_queue&) = delete;

  // Queues `job`; blocks while `capacity` jobs are waiting. A job must not
  // throw.
  void submit(std::function<void()> job);
  // Returns once every job submitted so far has finished.
  void drain();

 private:
  void work();

  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> jobs_;
  std::size_t running_ = 0;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ferrite::crash
