#include "read_ahead.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include "error.hpp"

namespace mgi {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

ReadAhead::ReadAhead(int slots, bool threaded) : slots_(std::max(1, slots)), threaded_(threaded) {
  if (threaded_) thread_ = std::thread([this] { loop(); });
}

ReadAhead::~ReadAhead() {
  cancel();
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ReadAhead::can_fill() const {
  return fill_ && !error_ && filled_ < items_ && filled_ - released_ < slots_;
}

void ReadAhead::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || can_fill(); });
    if (stop_) return;
    const int64_t item = filled_;
    filling_ = true;  // cancel() and start() wait for this before touching fill_
    lk.unlock();
    std::exception_ptr err;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      fill_(item, static_cast<int>(item % slots_));
    } catch (...) {
      err = std::current_exception();
    }
    const double dt = seconds_since(t0);
    lk.lock();
    filling_ = false;
    fill_s_ += dt;
    if (err)
      error_ = err;
    else
      ++filled_;
    cv_.notify_all();
  }
}

void ReadAhead::start(int64_t items, Fill fill) {
  cancel();
  {
    std::lock_guard<std::mutex> lk(mu_);
    fill_ = std::move(fill);
    items_ = std::max<int64_t>(0, items);
    fill_s_ = 0;
  }
  cv_.notify_all();
}

int ReadAhead::next() {
  std::unique_lock<std::mutex> lk(mu_);
  MGI_ASSERT(delivered_ < items_, "read-ahead: next() past the last item (" + std::to_string(items_) + ")");
  MGI_ASSERT(delivered_ - released_ < slots_,
             "read-ahead: next() with all " + std::to_string(slots_) + " slots held by the consumer");
  const int slot = static_cast<int>(delivered_ % slots_);
  if (!threaded_) {
    if (error_) std::rethrow_exception(error_);
    const int64_t item = delivered_;
    lk.unlock();
    const auto t0 = std::chrono::steady_clock::now();
    try {
      fill_(item, slot);
    } catch (...) {
      lk.lock();
      fill_s_ += seconds_since(t0);
      error_ = std::current_exception();
      throw;
    }
    lk.lock();
    fill_s_ += seconds_since(t0);
    ++filled_;
    ++delivered_;
    return slot;
  }
  cv_.wait(lk, [&] { return filled_ > delivered_ || error_ || stop_; });
  if (filled_ > delivered_) {
    ++delivered_;
    return slot;
  }
  if (error_) std::rethrow_exception(error_);
  MGI_ASSERT(false, "read-ahead: stopped while a consumer waited");
  return -1;
}

void ReadAhead::release() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    MGI_ASSERT(released_ < delivered_, "read-ahead: release() without a slot given out");
    ++released_;
  }
  cv_.notify_all();
}

void ReadAhead::cancel() noexcept {
  std::unique_lock<std::mutex> lk(mu_);
  items_ = 0;  // no new fill starts
  cv_.wait(lk, [&] { return !filling_; });
  fill_ = nullptr;
  filled_ = delivered_ = released_ = 0;
  error_ = nullptr;
}

double ReadAhead::fill_seconds() const {
  std::lock_guard<std::mutex> lk(mu_);
  return fill_s_;
}

}  // namespace mgi
