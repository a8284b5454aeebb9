#include "bench/driver.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace ferrite::bench {
namespace {

std::vector<std::string> cell_arguments(const std::filesystem::path& self, const cell_spec& s) {
  return {self.string(),
          "--cell",
          s.engine + ":" + std::string(info(s.work).name) + ":" + std::string(to_string(s.mode)) +
              ":" + std::to_string(s.threads),
          "--ops",
          std::to_string(s.ops),
          "--warmup-ops",
          std::to_string(s.warmup_ops),
          "--runs",
          std::to_string(s.runs),
          "--pool-bytes",
          std::to_string(s.pool_bytes),
          "--pool",
          s.pool_path.string(),
          "--objects",
          std::to_string(s.objects),
          "--structure",
          std::string(to_string(s.shape))};
}

// footprint's: the budget it is sized by, and whether its pool runs unbounded.
void add_footprint_arguments(std::vector<std::string>& args, const cell_spec& s) {
  if (s.work != workload::footprint) return;
  args.push_back("--budget");
  args.push_back(std::to_string(s.budget));
  if (s.unbounded) args.push_back("--unbounded");
}

cell_result failed(const cell_spec& spec, const std::string& why) {
  cell_result r;
  r.spec = spec;
  r.error = why;
  return r;
}

}  // namespace

cell_result run_cell_process(const std::filesystem::path& self, const cell_spec& spec) {
  std::vector<std::string> args = cell_arguments(self, spec);
  add_footprint_arguments(args, spec);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto env = engine_environment(spec.engine, spec.mode);

  int out[2];
  if (pipe(out) != 0) return failed(spec, std::string("pipe: ") + std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return failed(spec, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // The child: stdout to the pipe, the engine's environment, then exec.
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    for (const auto& [name, value] : env) {
      if (value.empty()) {
        unsetenv(name.c_str());
      } else {
        setenv(name.c_str(), value.c_str(), 1);
      }
    }
    execv(argv[0], argv.data());
    std::fprintf(stderr, "ferrite-bench: exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(out[1]);
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n > 0) {
      output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::error_code ec;
  for (const auto& file : engine_files(spec.engine, spec.pool_path)) {
    std::filesystem::remove(file, ec);  // left behind if the child crashed
  }

  if (WIFSIGNALED(status)) {
    return failed(spec, "the cell process was killed by signal " +
                            std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
                            ")");
  }
  try {
    cell_result r = cell_result_from_json(nlohmann::json::parse(output));
    if (WEXITSTATUS(status) != 0 && r.ok()) r.error = "the cell process failed";
    return r;
  } catch (const std::exception&) {
    return failed(spec, "the cell process exited with status " +
                            std::to_string(WEXITSTATUS(status)) +
                            " without a result (see the messages above)");
  }
}

int cell_process_main(const cell_spec& spec) {
  cell_result r;
  int status = 0;
  try {
    r = run_cell(spec);
  } catch (const std::exception& e) {
    r = cell_result{};
    r.spec = spec;
    r.error = e.what();
    status = 1;
  }
  r.process_os = os_syncs();
  std::cout << to_json(r).dump() << std::endl;
  return status;
}

}  // namespace ferrite::bench
