// Copyright 2026 The tenantry Authors.
//
// The structured arguments of the admin calls (plans, staff scopes, workspace
// specs, settings) from their Python forms. Shared by Engine and Batch.
#ifndef TENANTRY_PYTHON_ARGUMENTS_H_
#define TENANTRY_PYTHON_ARGUMENTS_H_

#include <optional>
#include <string>

#include "convert.h"
#include "tenantry/types.h"

namespace tenantry::python {

// None (unset), a plan name ("starter" ...) or a tenantry.Plan (any object
// with `name`, `workspace_limit` and `agency`).
std::optional<Plan> PlanArg(py::handle plan);
// A plan that must be set (set_plan).
Plan RequiredPlanArg(py::handle plan);
// None (the account's default), "all", or an iterable of workspace ids (M2).
std::optional<StaffScope> ScopeArg(py::handle scope);
StaffScope RequiredScopeArg(py::handle scope);
// "simple" or "agency" (T4); "active" or "inactive" (T5).
WorkspaceType WorkspaceTypeArg(const std::string& type);
WorkspaceStatus WorkspaceStatusArg(const std::string& status);
// A setting's value: a bool or an int (T6). bool is tested first: in
// Python, True is also an int.
SettingValue SettingArg(py::handle value);

AccountSpec AccountSpecArg(std::string name, Id owner, py::handle plan, std::string key,
                           std::string member_default_scope, std::string staff_member_role);
WorkspaceSpec WorkspaceSpecArg(std::string name, std::optional<std::string> slug,
                               const std::string& type, std::optional<Id> parent,
                               std::optional<Id> owner);

}  // namespace tenantry::python

#endif  // TENANTRY_PYTHON_ARGUMENTS_H_
