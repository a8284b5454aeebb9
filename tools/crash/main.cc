// ferrite-crash: crash-injection runs of the built-in workloads. A program
// with workloads of its own links crash_runner and calls run_cli the same
// way (tools/crash/workload.h).
#include "tools/crash/workload.h"

int main(int argc, char** argv) {
  return ferrite::crash::run_cli(argc, argv, ferrite::crash::builtin_workloads());
}
