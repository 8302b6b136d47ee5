// Private: turns concurrent single calls into batches (PipelineOptions::max_batch).
//
// Callers submit one job and block. The first caller of a round becomes its leader: it waits up
// to `window` for more jobs (or until max_batch are queued), runs them all with `run` on its own
// thread, hands every job its result and wakes the others. Jobs that arrive while a batch runs
// queue for the next round, whose leader is the first of them to wake. A job's result (or
// error) is its own: `run` returns one RowResult per job.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "generation/generation.h"

namespace bark::engine {

template <class Job, class Out>
class Coalescer {
 public:
  using Result = generation::RowResult<Out>;
  using Run = std::function<std::vector<Result>(const std::vector<Job>&)>;

  Coalescer(std::chrono::microseconds window, size_t max_batch, Run run)
      : window_(window), max_batch_(max_batch < 1 ? 1 : max_batch), run_(std::move(run)) {}

  Result submit(Job job) {
    Pending me{std::move(job), {}, false};
    std::unique_lock<std::mutex> lock(mutex_);
    queue_.push_back(&me);
    cv_.notify_all();
    while (!me.done) {
      if (leading_) {
        cv_.wait(lock);
        continue;
      }
      leading_ = true;
      cv_.wait_until(lock, std::chrono::steady_clock::now() + window_, [&] { return queue_.size() >= max_batch_; });
      std::vector<Pending*> batch;
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      lock.unlock();
      std::vector<Job> jobs;
      jobs.reserve(batch.size());
      for (Pending* p : batch) jobs.push_back(p->job);
      std::vector<Result> results;
      try {
        results = run_(jobs);
      } catch (...) {
        results.assign(batch.size(), Result{Out{}, std::current_exception()});
      }
      if (results.size() != batch.size()) {
        results.assign(batch.size(), Result{Out{}, std::make_exception_ptr(std::logic_error("batch lost a row"))});
      }
      lock.lock();
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->result = std::move(results[i]);
        batch[i]->done = true;
      }
      leading_ = false;
      cv_.notify_all();
    }
    return std::move(me.result);
  }

 private:
  struct Pending {
    Job job;
    Result result;
    bool done;
  };
  std::chrono::microseconds window_;
  size_t max_batch_;
  Run run_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;
  bool leading_ = false;
};

}  // namespace bark::engine
