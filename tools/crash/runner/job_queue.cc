#include "tools/crash/runner/job_queue.h"

namespace ferrite::crash {

job_queue::job_queue(unsigned threads, std::size_t capacity) : capacity_(capacity) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

job_queue::~job_queue() {
  {
    std::lock_guard lk(mu_);
    closing_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

void job_queue::submit(std::function<void()> job) {
  std::unique_lock lk(mu_);
  changed_.wait(lk, [&] { return jobs_.size() < capacity_; });
  jobs_.push_back(std::move(job));
  changed_.notify_all();
}

void job_queue::drain() {
  std::unique_lock lk(mu_);
  changed_.wait(lk, [&] { return jobs_.empty() && running_ == 0; });
}

void job_queue::work() {
  std::unique_lock lk(mu_);
  for (;;) {
    changed_.wait(lk, [&] { return closing_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // closing, nothing left
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    ++running_;
    changed_.notify_all();
    lk.unlock();
    job();
    job = nullptr;  // release what it holds before reporting it done
    lk.lock();
    --running_;
    changed_.notify_all();
  }
}

}  // namespace ferrite::crash
