// Read-ahead: fills a ring of caller-owned buffers on its own thread, in item
// order, while the caller computes on the items already filled. The ring only
// hands out slot numbers; what a slot holds (pinned batch input, a ragged
// group's values) belongs to the caller. One run at a time: start(items, fill),
// then next()/release() per item; cancel() (or the destructor) ends a run early.
//
// Item i goes to slot i % slots. fill(i, slot) runs on the reader thread for
// items the consumer has not released the slot of; an exception from fill is
// kept and rethrown, same type, by next() for that item (items before it are
// still delivered). Nothing blocks forever: next() with every slot held by the
// consumer is an internal error, and cancel() waits only for a fill in progress.
//
// Without a thread (threaded = false, the MGI_READAHEAD=0 debug switch) next()
// calls fill itself: the same order and errors, no overlap.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace mgi {

class ReadAhead {
 public:
  using Fill = std::function<void(int64_t item, int slot)>;

  explicit ReadAhead(int slots, bool threaded = true);
  ~ReadAhead();  // cancels the run and joins the thread; never throws
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  int slots() const { return slots_; }
  bool threaded() const { return threaded_; }

  // Begins a run of `items` items (cancelling a run still going).
  void start(int64_t items, Fill fill);
  // The slot holding the next item (0, 1, 2, ... in order), once filled.
  int next();
  // The oldest slot given out by next() may be filled again.
  void release();
  // Ends the run: no fill starts afterwards, a fill in progress is waited for.
  // The fill function is dropped, so what it refers to may go. Never throws.
  void cancel() noexcept;
  // Seconds the reader thread spent in fill during this run so far.
  double fill_seconds() const;

 private:
  void loop();
  bool can_fill() const;  // under mu_

  const int slots_;
  const bool threaded_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Fill fill_;
  int64_t items_ = 0;
  int64_t filled_ = 0;     // items filled (0..filled_-1)
  int64_t delivered_ = 0;  // items given out by next()
  int64_t released_ = 0;   // items whose slot came back
  bool filling_ = false;   // the reader is inside fill_
  bool stop_ = false;
  std::exception_ptr error_;  // fill of item filled_ failed
  double fill_s_ = 0;
  std::thread thread_;
};

}  // namespace mgi
