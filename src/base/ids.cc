#include "base/ids.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace dc {
namespace {

std::string to_hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

std::string format_uuid(std::array<unsigned char, 16> bytes, unsigned version) {
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | (version << 4));
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  const std::string hex = to_hex(bytes.data(), bytes.size());
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

std::array<unsigned char, 32> sha256(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP_Digest(sha256) failed");
  return digest;
}

}  // namespace

std::string random_uuid() {
  // The kernel's CSPRNG (what OpenSSL seeds from), read directly: waking
  // OpenSSL's generator would map about 2 MiB more of libcrypto into a
  // daemon that needs one id at start. 16 bytes come whole (getrandom(2)
  // never returns a short read below 256 bytes), or it failed.
  std::array<unsigned char, 16> bytes{};
  ssize_t got = -1;
  do {
    got = ::getrandom(bytes.data(), bytes.size(), 0);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(bytes.size())) {
    // A command id must not repeat; with the CSPRNG failing nothing here
    // can promise that, and a weaker generator would hide the failure.
    std::fputs("dc: the kernel's random generator failed (getrandom); cannot make unique ids\n", stderr);
    std::abort();
  }
  return format_uuid(bytes, 4);
}

std::string stable_uuid(std::string_view data) {
  // RFC 9562 §5.5: SHA-1 over the namespace's 16 bytes, then the name.
  std::array<unsigned char, 16> ns{};
  for (size_t i = 0, j = 0; i < kStableUuidNamespace.size(); ++i) {
    if (kStableUuidNamespace[i] == '-') continue;
    const auto nibble = [](char c) { return static_cast<unsigned char>(c <= '9' ? c - '0' : c - 'a' + 10); };
    ns[j / 2] = static_cast<unsigned char>(ns[j / 2] | (nibble(kStableUuidNamespace[i]) << (j % 2 == 0 ? 4 : 0)));
    ++j;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, ns.data(), ns.size()) == 1 &&
                  EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || len < 16) throw std::runtime_error("EVP_Digest(sha1) failed");
  std::array<unsigned char, 16> bytes{};
  std::copy_n(digest.begin(), bytes.size(), bytes.begin());
  return format_uuid(bytes, 5);
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string sha256_hex(std::string_view data) {
  const auto digest = sha256(data);
  return to_hex(digest.data(), digest.size());
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), digest, &len) == nullptr)
    throw std::runtime_error("HMAC(sha256) failed");
  return to_hex(digest, len);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace dc
