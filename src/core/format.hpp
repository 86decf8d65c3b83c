// Human-readable quantities for messages, plans and summaries.
#pragma once
#include <cstdint>
#include <string>

namespace mgi {

// "512 B", "1.5 KiB", "2.0 GiB" (binary units, one decimal).
std::string human_bytes(int64_t bytes);

}  // namespace mgi
