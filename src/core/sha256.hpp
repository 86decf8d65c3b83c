#pragma once
#include <string>

namespace mgi {
// Lower-case hex SHA-256 of `bytes` (OpenSSL EVP).
std::string sha256_hex(const std::string& bytes);
}  // namespace mgi
