// Copyright 2026 The tenantry Authors.
#include "arguments.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tenantry/names.h"
#include "tenantry/status.h"

namespace tenantry::python {
namespace {

// InvalidArgument naming `rule` (and its message ending " (T2)").
[[noreturn]] void Invalid(absl::string_view rule, absl::string_view message) {
  throw StatusError(Refusal(absl::StatusCode::kInvalidArgument, {rule}, message));
}

// A str argument inside a structured one, with ParseString's errors.
std::string Text(py::handle value, const char* what) {
  absl::string_view text;
  if (!ParseString(value.ptr(), what, &text)) throw py::error_already_set();
  return std::string(text);
}

}  // namespace

std::optional<Plan> PlanArg(py::handle plan) {
  if (plan.is_none()) return std::nullopt;
  if (py::isinstance<py::str>(plan)) return Plan::Named(Text(plan, "plan"));
  if (!py::hasattr(plan, "name") || !py::hasattr(plan, "workspace_limit") ||
      !py::hasattr(plan, "agency")) {
    throw py::type_error("plan must be None, a plan name or a tenantry.Plan");
  }
  Amount limit;
  if (!ParseAmount(plan.attr("workspace_limit").ptr(), "plan.workspace_limit", &limit.value)) {
    throw py::error_already_set();
  }
  if (limit.value < Plan::kUnlimited) {
    Invalid("T2",
            absl::StrCat("plan.workspace_limit must be -1 (unlimited) or >= 0; got ", limit.value));
  }
  py::object agency = plan.attr("agency");
  if (!PyBool_Check(agency.ptr())) throw py::type_error("plan.agency must be a bool (T4)");
  return Plan::Custom(Text(plan.attr("name"), "plan.name"), limit.value, agency.ptr() == Py_True);
}

Plan RequiredPlanArg(py::handle plan) {
  std::optional<Plan> result = PlanArg(plan);
  if (!result) throw py::type_error("plan must be a plan name or a tenantry.Plan");
  return *std::move(result);
}

std::optional<StaffScope> ScopeArg(py::handle scope) {
  if (scope.is_none()) return std::nullopt;
  if (py::isinstance<py::str>(scope)) {
    const std::string text = Text(scope, "scope");
    if (text == "all") return StaffScope::All();
    if (text == "none") return StaffScope::Of({});
    Invalid("M2",
            absl::StrCat("a staff scope is \"all\", \"none\" or a list of workspace ids; got \"",
                         text, "\""));
  }
  if (!py::isinstance<py::iterable>(scope)) {
    throw py::type_error("scope must be \"all\", \"none\", None or an iterable of workspace ids");
  }
  std::vector<WorkspaceId> ids;
  for (py::handle item : scope) {
    uint64_t id = 0;
    if (!ParseId(item.ptr(), "a scope workspace id", &id)) throw py::error_already_set();
    if (ids.size() >= limits::kMaxScopeWorkspaces) {
      Invalid("M2", absl::StrCat("a staff scope holds at most ", limits::kMaxScopeWorkspaces,
                                 " workspaces"));
    }
    ids.push_back(id);
  }
  return StaffScope::Of(std::move(ids));
}

StaffScope RequiredScopeArg(py::handle scope) {
  std::optional<StaffScope> result = ScopeArg(scope);
  if (!result) throw py::type_error("scope must be \"all\", \"none\" or an iterable of ids");
  return *std::move(result);
}

WorkspaceType WorkspaceTypeArg(const std::string& type) {
  if (std::optional<WorkspaceType> named = WorkspaceTypeNamed(type)) return *named;
  Invalid("T4", absl::StrCat("a workspace type is \"simple\" or \"agency\"; got \"", type, "\""));
}

WorkspaceStatus WorkspaceStatusArg(const std::string& status) {
  if (std::optional<WorkspaceStatus> named = WorkspaceStatusNamed(status)) return *named;
  Invalid("T5",
          absl::StrCat("a workspace status is \"active\" or \"inactive\"; got \"", status, "\""));
}

SettingValue SettingArg(py::handle value) {
  if (PyBool_Check(value.ptr())) return value.ptr() == Py_True;
  if (PyLong_Check(value.ptr())) {
    int64_t number = 0;
    if (!ParseAmount(value.ptr(), "a setting value", &number)) throw py::error_already_set();
    return number;
  }
  throw py::type_error("a setting value is a bool or an int (T6)");
}

AccountSpec AccountSpecArg(std::string name, Id owner, py::handle plan, std::string key,
                           std::string member_default_scope, std::string staff_member_role) {
  AccountSpec spec;
  spec.name = std::move(name);
  spec.owner = owner.value;
  spec.plan = PlanArg(plan);
  spec.key = std::move(key);
  spec.member_default_scope = std::move(member_default_scope);
  spec.staff_member_role = std::move(staff_member_role);
  return spec;
}

WorkspaceSpec WorkspaceSpecArg(std::string name, std::optional<std::string> slug,
                               const std::string& type, std::optional<Id> parent,
                               std::optional<Id> owner) {
  WorkspaceSpec spec;
  spec.name = std::move(name);
  spec.slug = std::move(slug);
  spec.type = WorkspaceTypeArg(type);
  spec.parent = parent ? parent->value : 0;
  spec.owner = owner ? owner->value : 0;
  return spec;
}

}  // namespace tenantry::python
