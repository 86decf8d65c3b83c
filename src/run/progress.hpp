// Rank 0's progress line: rows done, %, rows/s, ETA. On a terminal one line
// redrawn in place; otherwise (Slurm logs) a plain line every `interval`
// seconds, so logs stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace mgi {

class Progress {
 public:
  // total: rows this run computes; interval: seconds between plain lines (0 = off).
  Progress(int64_t total, double interval, std::FILE* out = stdout);
  void add(int64_t rows);  // rows just finished (written to the journal)
  void finish();           // ends a redrawn terminal line
  static std::string format(int64_t done, int64_t total, double seconds);

 private:
  void print(bool final_line);
  int64_t total_, done_ = 0;
  double interval_;
  std::FILE* out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace mgi
