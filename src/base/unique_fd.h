// The one owner of a file descriptor in dc. Every descriptor the program
// opens outside a C library's own handles (log files, /dev/null, pipes,
// pidfds, listening and client sockets, files being read) lives in a
// UniqueFd, so no code closes one by hand and none leaks on an early
// return. A UniqueFd is a value like std::unique_ptr: movable, not copyable,
// and not safe to use from two threads at once.
#pragma once

namespace dc {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller now closes the returned fd.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the owned fd (if any) and takes ownership of `fd`.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace dc
