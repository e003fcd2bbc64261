// Copyright 2026 The tenantry Authors.
//
// tenantry._core.Batch: the Engine's changes, queued for Engine.apply (X2).
// Each method converts its arguments now (so a bad argument fails where it
// is written) and returns the batch, so that calls chain.
#include <utility>

#include "arguments.h"
#include "engine_binding.h"
#include "pybind11/stl.h"

namespace tenantry::python {

void BindBatch(py::module_& module) {
  using BatchClass = py::class_<Batch>;
  const auto chain = py::return_value_policy::reference_internal;
  BatchClass c(module, "Batch",
               "Changes applied by Engine.apply as one: all become visible together, or none.");
  c.def(py::init<>());
  c.def("__len__", &Batch::size);
  c.def(
      "create_user",
      [](Batch& b, std::string key) -> Batch& { return b.create_user(std::move(key)); }, chain);
  c.def(
      "create_account",
      [](Batch& b, std::string name, IdOf<"owner"> owner, py::object plan,
         std::optional<std::string> key, std::string member_default_scope,
         std::string staff_member_role) -> Batch& {
        return b.create_account(AccountSpecArg(std::move(name), owner, plan, key.value_or(""),
                                               std::move(member_default_scope),
                                               std::move(staff_member_role)));
      },
      py::arg("name"), py::arg("owner"), py::kw_only(), py::arg("plan") = "starter",
      py::arg("key") = py::none(), py::arg("member_default_scope") = "all",
      py::arg("staff_member_role") = "admin", chain);
  c.def(
      "set_plan",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"account"> account, py::object plan) -> Batch& {
        return b.set_plan(actor.value, account.value, RequiredPlanArg(plan));
      },
      chain);
  c.def(
      "add_staff",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"account"> account, IdOf<"user"> user,
         std::string role, py::object scope) -> Batch& {
        return b.add_staff(actor.value, account.value, user.value, std::move(role),
                           ScopeArg(scope));
      },
      py::arg("actor"), py::arg("account"), py::arg("user"), py::arg("role"), py::kw_only(),
      py::arg("scope") = py::none(), chain);
  c.def(
      "set_staff_scope",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"account"> account, IdOf<"user"> user,
         py::object scope) -> Batch& {
        return b.set_staff_scope(actor.value, account.value, user.value, RequiredScopeArg(scope));
      },
      chain);
  c.def(
      "remove_staff",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"account"> account, IdOf<"user"> user) -> Batch& {
        return b.remove_staff(actor.value, account.value, user.value);
      },
      chain);
  c.def(
      "create_workspace",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"account"> account, std::string name,
         std::optional<std::string> slug, const std::string& type,
         std::optional<IdOf<"parent">> parent, std::optional<IdOf<"owner">> owner) -> Batch& {
        return b.create_workspace(
            actor.value, account.value,
            WorkspaceSpecArg(std::move(name), std::move(slug), type, parent, owner));
      },
      py::arg("actor"), py::arg("account"), py::arg("name"), py::kw_only(),
      py::arg("slug") = py::none(), py::arg("type") = "simple", py::arg("parent") = py::none(),
      py::arg("owner") = py::none(), chain);
  c.def(
      "rename_workspace",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace, std::string name) -> Batch& {
        return b.rename_workspace(actor.value, workspace.value, std::move(name));
      },
      chain);
  c.def(
      "set_status",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace,
         const std::string& status) -> Batch& {
        return b.set_status(actor.value, workspace.value, WorkspaceStatusArg(status));
      },
      chain);
  c.def(
      "set_setting",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace, std::string name,
         py::object value) -> Batch& {
        return b.set_setting(actor.value, workspace.value, std::move(name), SettingArg(value));
      },
      chain);
  c.def(
      "add_member",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace, IdOf<"user"> user,
         std::string role) -> Batch& {
        return b.add_member(actor.value, workspace.value, user.value, std::move(role));
      },
      chain);
  c.def(
      "set_role",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace, IdOf<"user"> user,
         std::string role) -> Batch& {
        return b.set_role(actor.value, workspace.value, user.value, std::move(role));
      },
      chain);
  c.def(
      "remove_member",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace, IdOf<"user"> user) -> Batch& {
        return b.remove_member(actor.value, workspace.value, user.value);
      },
      chain);
  c.def(
      "transfer_ownership",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace, IdOf<"new_owner"> new_owner)
          -> Batch& { return b.transfer_ownership(actor.value, workspace.value, new_owner.value); },
      chain);
  c.def(
      "switch_workspace",
      [](Batch& b, IdOf<"user"> user, IdOf<"workspace"> workspace) -> Batch& {
        return b.switch_workspace(user.value, workspace.value);
      },
      chain);
  c.def(
      "define_role",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"account"> account, std::string name,
         std::vector<std::string> permissions, std::optional<std::string> inherits) -> Batch& {
        return b.define_role(actor.value, account.value, std::move(name), std::move(permissions),
                             inherits.value_or(""));
      },
      py::arg("actor"), py::arg("account"), py::arg("name"), py::arg("permissions"), py::kw_only(),
      py::arg("inherits") = py::none(), chain);
  c.def(
      "create_team",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace, std::string name,
         std::string role) -> Batch& {
        return b.create_team(actor.value, workspace.value, std::move(name), std::move(role));
      },
      chain);
  c.def(
      "add_team_member",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"team"> team, IdOf<"user"> user) -> Batch& {
        return b.add_team_member(actor.value, team.value, user.value);
      },
      chain);
  c.def(
      "remove_team_member",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"team"> team, IdOf<"user"> user) -> Batch& {
        return b.remove_team_member(actor.value, team.value, user.value);
      },
      chain);
  c.def(
      "set_team_role",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"team"> team, std::string role) -> Batch& {
        return b.set_team_role(actor.value, team.value, std::move(role));
      },
      chain);
  c.def(
      "delete_team",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"team"> team) -> Batch& {
        return b.delete_team(actor.value, team.value);
      },
      chain);
  c.def(
      "accept",
      [](Batch& b, std::string token, IdOf<"user"> user) -> Batch& {
        return b.accept(std::move(token), user.value);
      },
      chain);
  c.def(
      "revoke_invitation",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"invitation"> invitation) -> Batch& {
        return b.revoke_invitation(actor.value, invitation.value);
      },
      chain);
  c.def(
      "delete_workspace",
      [](Batch& b, IdOf<"actor"> actor, IdOf<"workspace"> workspace,
         std::string confirm) -> Batch& {
        return b.delete_workspace(actor.value, workspace.value, std::move(confirm));
      },
      py::arg("actor"), py::arg("workspace"), py::kw_only(), py::arg("confirm"), chain);
}

}  // namespace tenantry::python
