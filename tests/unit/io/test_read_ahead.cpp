// The read-ahead ring: items in order, slots reused only after release, the
// reader's errors rethrown with their type on the consumer's thread, and no
// hang when the consumer stops early, holds every slot, or cancels a slow fill.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "error.hpp"
#include "read_ahead.hpp"

namespace mgi {
namespace {

using namespace std::chrono_literals;

// Each slot holds the item written into it; fills log the order they ran in.
struct Ring {
  std::vector<int64_t> slot_item;
  std::vector<int64_t> fills;
  std::mutex mu;
  explicit Ring(int slots) : slot_item(static_cast<size_t>(slots), -1) {}
  ReadAhead::Fill fill(int64_t fail_at = -1, bool data_error = true) {
    return [this, fail_at, data_error](int64_t item, int slot) {
      if (item == fail_at) {
        if (data_error) throw DataError("bad rows at item " + std::to_string(item));
        throw std::logic_error("not an mgi error");
      }
      std::lock_guard<std::mutex> lk(mu);
      slot_item[static_cast<size_t>(slot)] = item;
      fills.push_back(item);
    };
  }
};

class ReadAheadModes : public ::testing::TestWithParam<bool> {};

TEST_P(ReadAheadModes, DeliversEveryItemInOrderAndReusesSlotsAfterRelease) {
  const bool threaded = GetParam();
  Ring ring(3);  // outlives the reader, which writes into it
  ReadAhead ra(3, threaded);
  for (int run = 0; run < 2; ++run) {  // a second run on the same ring starts over at item 0
    ring.fills.clear();
    ra.start(10, ring.fill());
    for (int64_t i = 0; i < 10; ++i) {
      const int slot = ra.next();
      EXPECT_EQ(slot, i % 3);
      EXPECT_EQ(ring.slot_item[static_cast<size_t>(slot)], i) << "slot " << slot;
      if (threaded) std::this_thread::sleep_for(1ms);  // let the reader run ahead: it must not pass the held slot
      EXPECT_EQ(ring.slot_item[static_cast<size_t>(slot)], i) << "overwritten before release";
      ra.release();
    }
    const std::vector<int64_t> want = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    EXPECT_EQ(ring.fills, want);
    ra.cancel();
  }
}

TEST_P(ReadAheadModes, ConsumerMayHoldSeveralSlots) {
  Ring ring(4);  // outlives the reader, which writes into it
  ReadAhead ra(4, GetParam());
  ra.start(7, ring.fill());
  std::vector<int> held;
  for (int64_t i = 0; i < 7; ++i) {
    held.push_back(ra.next());  // up to three in flight, as a pipelined backend holds them
    if (held.size() == 3) {
      EXPECT_EQ(ring.slot_item[static_cast<size_t>(held.front())], i - 2);
      ra.release();
      held.erase(held.begin());
    }
  }
  while (!held.empty()) ra.release(), held.erase(held.begin());
}

TEST_P(ReadAheadModes, FillErrorReachesTheConsumerWithItsTypeAfterTheItemsBeforeIt) {
  Ring ring(3);  // outlives the reader, which writes into it
  ReadAhead ra(3, GetParam());
  ra.start(8, ring.fill(/*fail_at=*/4));
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(ring.slot_item[static_cast<size_t>(ra.next())], i);
    ra.release();
  }
  try {
    ra.next();
    FAIL() << "expected the fill's DataError";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "bad rows at item 4");
  }
  ra.cancel();
  // A foreign exception type survives too.
  ra.start(3, ring.fill(/*fail_at=*/0, /*data_error=*/false));
  EXPECT_THROW(ra.next(), std::logic_error);
}

TEST_P(ReadAheadModes, NextWithEverySlotHeldIsAnErrorNotAHang) {
  Ring ring(2);  // outlives the reader, which writes into it
  ReadAhead ra(2, GetParam());
  ra.start(5, ring.fill());
  ra.next();
  ra.next();
  EXPECT_THROW(ra.next(), Error);
  ra.release();
  EXPECT_NO_THROW(ra.next());
}

TEST_P(ReadAheadModes, NextPastTheLastItemIsAnError) {
  Ring ring(2);  // outlives the reader, which writes into it
  ReadAhead ra(2, GetParam());
  ra.start(1, ring.fill());
  ra.next();
  ra.release();
  EXPECT_THROW(ra.next(), Error);
  ra.start(0, ring.fill());  // an empty run
  EXPECT_THROW(ra.next(), Error);
}

INSTANTIATE_TEST_SUITE_P(ThreadedAndInline, ReadAheadModes, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "threaded" : "inline"; });

TEST(ReadAhead, ConsumerStoppingEarlyDoesNotHang) {
  for (int k = 0; k < 50; ++k) {  // stop at different moments of the reader's progress
    Ring ring(3);  // outlives the reader, which writes into it
    ReadAhead ra(3);
    ra.start(1000, ring.fill());
    for (int i = 0; i < k % 5; ++i) {
      ra.next();
      if (i % 2) ra.release();
    }
    if (k % 3 == 0) ra.cancel();  // else the destructor does it
  }
}

TEST(ReadAhead, CancelWaitsForTheFillInProgressOnly) {
  std::atomic<bool> in_fill{false}, after_cancel{false};
  std::atomic<int> fills{0};
  ReadAhead ra(3);
  ra.start(100, [&](int64_t, int) {
    in_fill = true;
    std::this_thread::sleep_for(50ms);
    if (after_cancel) ADD_FAILURE() << "a fill ran past cancel()";
    ++fills;
  });
  while (!in_fill) std::this_thread::yield();
  const auto t0 = std::chrono::steady_clock::now();
  ra.cancel();
  after_cancel = true;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 5.0);          // one fill, not the whole run
  EXPECT_LE(fills.load(), 3);  // the ring bounds how far it got
  std::this_thread::sleep_for(100ms);
  EXPECT_LE(fills.load(), 3);
}

TEST(ReadAhead, ReaderRunsAheadOfASlowConsumer) {
  std::atomic<int> filled{0};
  ReadAhead ra(3);
  ra.start(3, [&](int64_t, int) { ++filled; });
  const int slot = ra.next();
  EXPECT_EQ(slot, 0);
  for (int i = 0; i < 500 && filled < 3; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(filled.load(), 3) << "items 1 and 2 are read while item 0 is held";
  EXPECT_GE(ra.fill_seconds(), 0.0);
}

}  // namespace
}  // namespace mgi
