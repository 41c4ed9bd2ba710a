#include "base/names.h"

#include <gtest/gtest.h>

namespace dc {
namespace {

// Issue 11, item 12: a manager named `all` or `amq.*` broke every broadcast
// publish (the source declares each manager's queue); the one rule refuses
// them wherever a manager name enters.
TEST(ManagerName, RefusesBroadcastAndBrokerReservedNames) {
  EXPECT_EQ(manager_name_problem("manager_1"), "");
  EXPECT_EQ(manager_name_problem("dc-e2e_1f2e.eu:west"), "");
  EXPECT_NE(manager_name_problem("all").find("broadcast"), std::string::npos);
  EXPECT_NE(manager_name_problem("amq.gen-123").find("amq."), std::string::npos);
  EXPECT_NE(manager_name_problem(""), "");
  EXPECT_NE(manager_name_problem("two words"), "");
  EXPECT_NE(manager_name_problem("a/b"), "");
  EXPECT_NE(manager_name_problem(std::string(256, 'm')), "");
  EXPECT_EQ(manager_name_problem(std::string(255, 'm')), "");
}

}  // namespace
}  // namespace dc
