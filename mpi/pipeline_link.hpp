// Pipeline stages (runtime.pipeline_stages = K): the messages that carry a
// micro-batch from one stage's rank to the next, and the ring they travel.
//
// Group g is world ranks [g*K, g*K + K); its rank s holds stage s. Stage 0
// (the group's leader, mpi/pipeline_backend.hpp) sends each micro-batch to
// stage 1, stage s to stage s + 1, and the last stage sends the graph's
// outputs back to the leader: a ring over the group's communicator.
//
// One message per micro-batch and link: a header of int64s, then the values
// the link carries (PipelineStage::sends of the sender), each whole, batch
// first, at 64-byte aligned offsets. Kinds: data; error (a stage failed: the
// text follows, and every later stage forwards it, so the leader gets exactly
// one reply per micro-batch); stop (after the run, passed round the ring once
// and back to the leader: every rank's last message).
#pragma once
#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <cstring>
#include <string>
#include <vector>

#include "backend.hpp"
#include "stage_split.hpp"

namespace mgi {

namespace pipe {

enum Kind : int64_t { kData = 1, kError = 2, kStop = 3 };
constexpr int kTag = 31;
constexpr int kMaxDims = 8;
constexpr size_t kAlign = 64;
constexpr size_t kErrorText = 2048;  // an error message is cut to this many bytes

inline size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Header ints: kind, micro-batch id, rows, shaped (0/1), values, exit code,
// text bytes, then per value its rank and dims (kMaxDims slots).
constexpr size_t kFixed = 7;
inline size_t header_bytes(size_t values) { return align_up((kFixed + values * (1 + kMaxDims)) * sizeof(int64_t)); }

// What one link carries: the values' types and per-row shapes at the longest
// prepared row (the buffer bound), in message order.
struct LinkValues {
  std::vector<DType> types;
  std::vector<Shape> rows;  // per row, largest
  // Bytes of a message of `batch` rows at the largest shapes (at least room for an error text).
  size_t capacity(int64_t batch) const;
};

// A message being built or read in a buffer of at least capacity() bytes.
class Message {
 public:
  Message(void* buffer, const LinkValues& link) : p_(static_cast<char*>(buffer)), link_(link) {}
  int64_t* header() const { return reinterpret_cast<int64_t*>(p_); }
  Kind kind() const { return static_cast<Kind>(header()[0]); }
  int64_t id() const { return header()[1]; }
  int64_t rows() const { return header()[2]; }
  bool shaped() const { return header()[3] != 0; }
  int exit_code() const { return static_cast<int>(header()[5]); }
  std::string text() const { return std::string(p_ + header_bytes(link_.types.size()), static_cast<size_t>(header()[6])); }
  Shape shape(size_t j) const;
  // Byte offset of value j (shapes must be set) and the total bytes to send.
  size_t offset(size_t j) const;
  size_t value_bytes(size_t j) const;
  size_t size() const;
  char* value(size_t j) const { return p_ + offset(j); }

  // Writers. data(): shapes are the values' full shapes, batch first.
  void set_data(int64_t id, int64_t rows, bool shaped, const std::vector<Shape>& shapes);
  void set_error(int64_t id, int code, const std::string& text);
  void set_stop(int code);

 private:
  char* p_;
  const LinkValues& link_;
};

// Waits for `req` without spinning a core the whole time (see master_worker.cpp:
// ranks may share cores with other ranks' compute).
void wait_polling(MPI_Request* req);

// Drives the MPI library's progress engine from a thread (an MPI_Iprobe on
// MPI_COMM_SELF every 20 us) while the rank computes, so that a large
// micro-batch, which Open MPI moves in fragments only while a call of the
// sending and the receiving process is inside MPI, keeps moving between
// stages during a stage's compute instead of waiting for its end. Needs
// MPI_THREAD_MULTIPLE; without it, does nothing.
class ProgressThread {
 public:
  explicit ProgressThread(MPI_Comm comm);
  ~ProgressThread();
  ProgressThread(const ProgressThread&) = delete;
  ProgressThread& operator=(const ProgressThread&) = delete;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Whether the MPI library says at run time that it takes device buffers
// (Open MPI's MPIX_Query_cuda_support), and the plan's line on transfers.
bool mpi_cuda_aware();
std::string transfer_note(bool cuda_backend);

}  // namespace pipe

// Stage `s`'s link values: what it receives (s == 0: the graph inputs) and
// what it sends, with per-row shapes at `input_rows` of the full graph
// (probed at `probe` rows: 1, or the model's fixed batch).
pipe::LinkValues link_values(const Graph& full, const std::vector<int>& values, const std::vector<Shape>& input_rows,
                             int64_t probe);

}  // namespace mgi
