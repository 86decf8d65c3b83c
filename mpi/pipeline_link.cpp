#include "pipeline_link.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#if defined(__has_include)
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>
#endif
#endif

#include "error.hpp"
#include "mpi_check.hpp"

namespace mgi {
namespace pipe {

size_t LinkValues::capacity(int64_t batch) const {
  size_t n = header_bytes(types.size());
  size_t data = 0;
  for (size_t j = 0; j < types.size(); ++j)
    data += align_up(static_cast<size_t>(batch * shape_numel(rows[j])) * dtype_size(types[j]));
  return n + std::max(data, align_up(kErrorText));
}

Shape Message::shape(size_t j) const {
  const int64_t* h = header() + kFixed + j * (1 + kMaxDims);
  return Shape(h + 1, h + 1 + h[0]);
}

size_t Message::value_bytes(size_t j) const {
  return static_cast<size_t>(shape_numel(shape(j))) * dtype_size(link_.types[j]);
}

size_t Message::offset(size_t j) const {
  size_t at = header_bytes(link_.types.size());
  for (size_t i = 0; i < j; ++i) at += align_up(value_bytes(i));
  return at;
}

size_t Message::size() const {
  const size_t h = header_bytes(link_.types.size());
  if (kind() == kError) return h + static_cast<size_t>(header()[6]);
  if (kind() == kStop) return h;
  return offset(link_.types.size());
}

void Message::set_data(int64_t id, int64_t rows, bool shaped, const std::vector<Shape>& shapes) {
  int64_t* h = header();
  std::fill(h, h + kFixed, 0);
  h[0] = kData;
  h[1] = id;
  h[2] = rows;
  h[3] = shaped ? 1 : 0;
  h[4] = static_cast<int64_t>(shapes.size());
  MGI_ASSERT(shapes.size() == link_.types.size(), "pipeline message: wrong number of values");
  for (size_t j = 0; j < shapes.size(); ++j) {
    MGI_ASSERT(shapes[j].size() <= static_cast<size_t>(kMaxDims), "pipeline message: value of rank > 8");
    int64_t* v = h + kFixed + j * (1 + kMaxDims);
    v[0] = static_cast<int64_t>(shapes[j].size());
    std::copy(shapes[j].begin(), shapes[j].end(), v + 1);
  }
}

void Message::set_error(int64_t id, int code, const std::string& text) {
  int64_t* h = header();
  std::fill(h, h + kFixed, 0);
  h[0] = kError;
  h[1] = id;
  h[5] = code;
  const size_t n = std::min(text.size(), kErrorText);
  h[6] = static_cast<int64_t>(n);
  std::memcpy(p_ + header_bytes(link_.types.size()), text.data(), n);
}

void Message::set_stop(int code) {
  int64_t* h = header();
  std::fill(h, h + kFixed, 0);
  h[0] = kStop;
  h[5] = code;
}

void wait_polling(MPI_Request* req) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int done = 0;
  for (;;) {
    MGI_MPI(MPI_Test(req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    if (Clock::now() - start >= std::chrono::microseconds(200))
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

ProgressThread::ProgressThread(MPI_Comm comm) {
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  if (level < MPI_THREAD_MULTIPLE) return;
  (void)comm;  // progress is the library's, for every communicator: MPI_COMM_SELF, on which nothing is sent
  comm_ = MPI_COMM_SELF;
  thread_ = std::thread([this] {
    int flag = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, MPI_STATUS_IGNORE);  // nothing is ever sent on comm_
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
}

ProgressThread::~ProgressThread() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

bool mpi_cuda_aware() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return MPIX_Query_cuda_support() == 1;
#else
  return false;
#endif
}

std::string transfer_note(bool cuda_backend) {
  const bool aware = mpi_cuda_aware();
  std::string s = "micro-batches pass between stages with non-blocking MPI through ";
  s += cuda_backend ? "page-locked host buffers" : "host buffers";
  if (cuda_backend)
    s += aware ? " (the MPI library reports CUDA-aware support, but device-resident batch I/O is not in the "
                 "Backend API yet)"
               : " (the MPI library is not CUDA-aware)";
  return s;
}

}  // namespace pipe

pipe::LinkValues link_values(const Graph& full, const std::vector<int>& values, const std::vector<Shape>& input_rows,
                             int64_t probe) {
  std::vector<Shape> in = input_rows;
  for (Shape& s : in) s.insert(s.begin(), probe);
  const std::vector<Shape> shapes = full.infer_shapes(in);
  pipe::LinkValues link;
  for (int v : values) {
    link.types.push_back(full.values[static_cast<size_t>(v)].dtype);
    const Shape& s = shapes[static_cast<size_t>(v)];
    MGI_ASSERT(!s.empty() && s[0] == probe, "pipeline: a value crossing stages has no batch dim");
    link.rows.push_back(Shape(s.begin() + 1, s.end()));
  }
  return link;
}

}  // namespace mgi
