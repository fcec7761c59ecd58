// A child process started from an argv array (never a shell string, so file names are
// never interpreted), with pipes to its stdin and from its stdout, and its stderr drained
// by a thread into a line callback. Used to run ffmpeg for decoding and encoding video.
// POSIX only.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "mien/core/error.hpp"

extern char** environ;

namespace mien {

class Subprocess {
 public:
  struct Options {
    bool pipe_stdin = false;     // false: the child inherits ours (e.g. `ffmpeg -i -`)
    bool pipe_stdout = false;    // false: the child's stdout goes to /dev/null
    bool inherit_stdin = false;  // with pipe_stdin false: keep ours instead of /dev/null
    // Called from a background thread with each line the child writes to stderr.
    std::function<void(const std::string&)> on_stderr_line;
    // Called from that thread once the child's stderr has closed (it exited).
    std::function<void()> on_stderr_end;
  };

  Subprocess() = default;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess() {
    if (pid_ > 0) {
      close_stdin();
      close_fd(stdout_fd_);
      ::kill(pid_, SIGKILL);
      wait();
    }
    join_stderr();
  }

  // Starts argv[0] (looked up in PATH). Throws if it cannot be started, e.g. not installed.
  void start(const std::vector<std::string>& argv, Options opt) {
    MIEN_CHECK(!argv.empty(), "no program to run");
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    auto fail = [&](const std::string& what) {
      for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
        close_fd(fd);
      throw Error(what);
    };
    if ((opt.pipe_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0) ||
        (opt.pipe_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) || ::pipe2(err_pipe, O_CLOEXEC) != 0)
      fail(std::string("cannot create a pipe: ") + std::strerror(errno));

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (opt.pipe_stdin)
      posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    else if (!opt.inherit_stdin)
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (opt.pipe_stdout)
      posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    else
      posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    // The child starts with default signal handling (a parent ignoring SIGPIPE must not
    // make ffmpeg ignore it too).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &def);
    short flags = POSIX_SPAWN_SETSIGDEF;
    // Its own process group unless it reads our stdin: a Ctrl-C in the terminal then reaches
    // mien alone, which stops the decoder and lets the encoder finish the file, instead of
    // every ffmpeg dying mid-write.
    if (!opt.inherit_stdin) {
      posix_spawnattr_setpgroup(&attr, 0);
      flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&attr, flags);

    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      pid_ = -1;
      fail(rc == ENOENT ? "'" + argv[0] + "' was not found; install it (e.g. apt-get install " +
                              argv[0] + ") or put it on PATH"
                        : "cannot start '" + argv[0] + "': " + std::strerror(rc));
    }
    program_ = argv[0];
    live_pid_ = pid_;
    close_fd(in_pipe[0]);
    close_fd(out_pipe[1]);
    close_fd(err_pipe[1]);
    stdin_fd_ = in_pipe[1];
    stdout_fd_ = out_pipe[0];
#ifdef F_SETPIPE_SZ
    // Raw video moves megabytes per frame: with the default 64 KiB pipe, ffmpeg and mien
    // take turns about a hundred times per 1080p frame. 1 MiB is the largest size an
    // unprivileged process may set by default; refused sizes keep the default.
    for (int fd : {stdin_fd_, stdout_fd_})
      if (fd >= 0) ::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#endif
    const int err_fd = err_pipe[0];
    auto on_line = std::move(opt.on_stderr_line);
    auto on_end = std::move(opt.on_stderr_end);
    stderr_thread_ = std::thread([err_fd, on_line, on_end] {
      std::string line;
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(err_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
          if (buf[i] == '\n' || buf[i] == '\r') {
            if (!line.empty() && on_line) on_line(line);
            line.clear();
          } else if (line.size() < 65536) {
            line += buf[i];
          }
        }
      }
      if (!line.empty() && on_line) on_line(line);
      ::close(err_fd);
      if (on_end) on_end();
    });
  }

  const std::string& program() const {
    return program_;
  }
  bool running() const {
    return pid_ > 0;
  }

  // Reads exactly `size` bytes from the child's stdout unless it ends first; returns the
  // number read (less than size only at the end of the stream).
  std::size_t read_stdout(void* data, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::read(stdout_fd_, static_cast<char*>(data) + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error("reading from " + program_ + ": " + std::strerror(errno));
      if (n == 0) break;
      done += std::size_t(n);
    }
    return done;
  }

  // Writes all bytes to the child's stdin. Returns false if the child closed it (it exited
  // or failed). SIGPIPE is blocked for this thread while writing and a pending one is
  // consumed, so a dying child cannot kill the calling program.
  bool write_stdin(const void* data, std::size_t size) {
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    bool ok = true;
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(stdin_fd_, static_cast<const char*>(data) + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false;
        break;
      }
      done += std::size_t(n);
    }
    if (!ok) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return ok;
  }

  void close_stdin() {
    close_fd(stdin_fd_);
  }

  // Asks the child to stop (SIGTERM) without waiting; safe from another thread while one
  // reads its output, which then sees the end of the stream.
  void terminate() {
    const pid_t pid = live_pid_.load();
    if (pid > 0) ::kill(pid, SIGTERM);
  }

  // Stops the child early (e.g. when the reader gives up) and waits for it. Our end of its
  // stdout is closed first: a child blocked writing a full pipe then gets EPIPE at once,
  // where SIGTERM alone leaves ffmpeg stuck in a restarted write(). SIGKILL follows if it
  // has not exited after 2 s.
  int stop() {
    close_fd(stdout_fd_);
    close_stdin();
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 200; ++i) {
        int st = 0;
        rusage ru{};
        const pid_t r = ::wait4(pid_, &st, WNOHANG, &ru);
        if (r == pid_) {
          record_cpu(ru);
          live_pid_ = -1;
          pid_ = -1;
          exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
          break;
        }
        if (r < 0 && errno != EINTR) break;
        ::usleep(10000);
      }
      if (pid_ > 0) ::kill(pid_, SIGKILL);
    }
    return wait();
  }

  // Waits for the child and its stderr to end. Returns the exit code, or 128 + signal.
  int wait() {
    if (pid_ > 0) {
      int st = 0;
      live_pid_ = -1;  // once reaped the pid may be reused: terminate() must not signal it
      rusage ru{};
      while (::wait4(pid_, &st, 0, &ru) < 0 && errno == EINTR) {
      }
      record_cpu(ru);
      pid_ = -1;
      exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
      close_fd(stdout_fd_);
    }
    join_stderr();
    return exit_code_;
  }

  // User + system CPU seconds the child used, known once it has been reaped (wait() or
  // stop()); 0 before. For `mien video --timing`: ffmpeg's work counts against the same
  // cores as mien's.
  double cpu_seconds() const {
    return cpu_seconds_;
  }

 private:
  void record_cpu(const rusage& ru) {
    cpu_seconds_ = double(ru.ru_utime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec) +
                   double(ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_stime.tv_usec);
  }
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  void join_stderr() {
    if (stderr_thread_.joinable()) stderr_thread_.join();
  }

  pid_t pid_ = -1;
  std::atomic<pid_t> live_pid_{-1};  // pid_ for terminate() from other threads
  int stdin_fd_ = -1, stdout_fd_ = -1;
  int exit_code_ = -1;
  double cpu_seconds_ = 0;
  std::string program_;
  std::thread stderr_thread_;
};

}  // namespace mien
