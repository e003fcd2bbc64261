// A C++ program embedding tenantry as a CMake subproject (CMakeLists.txt
// beside it): one agency, a client, a check and a debit. Prints one line;
// any refusal fails with its status.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "tenantry/engine.h"

namespace {

template <typename T>
T Must(absl::StatusOr<T> result) {
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(result);
}

void Must(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main() {
  using namespace tenantry;
  Engine engine;
  UserId olivia = Must(engine.create_user("olivia@northwind.agency"));
  UserId carla = Must(engine.create_user("carla@acme.example"));
  AccountId account = Must(engine.create_account({"Northwind", olivia, Plan::Named("enterprise")}));
  WorkspaceId hq = Must(engine.create_workspace(
      olivia, account, {"Northwind HQ", std::nullopt, WorkspaceType::kAgency}));
  WorkspaceId acme = Must(engine.create_workspace(
      olivia, account, {"Acme Inc.", std::nullopt, WorkspaceType::kSimple, hq}));
  Must(engine.add_member(olivia, acme, carla, "client"));

  PermissionId trigger = Must(engine.permission("runs.trigger"));
  bool allowed = engine.check(carla, acme, trigger);
  Must(engine.grant(kSystem, account, 100));
  Must(engine.transfer(olivia, account, acme, 60));
  int64_t left = Must(engine.consume(acme, 25));
  std::printf("carla may trigger runs in acme: %d; credits left: %lld\n", allowed ? 1 : 0,
              static_cast<long long>(left));
  return allowed && left == 35 ? 0 : 1;
}
