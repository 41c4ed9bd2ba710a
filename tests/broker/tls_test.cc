// TLS (amqps) against a private node with a throwaway CA. One test case, so
// the node (5-10 s to start) is started once for all TLS checks even when
// ctest runs every test case in its own process.
#include <gtest/gtest.h>

#include "broker_test_util.h"
#include "private_node.h"

namespace dc::broker {
namespace {

using namespace std::chrono_literals;

// Writes ca.pem (signs server.pem, SAN DNS:localhost only) and other-ca.pem
// (signs nothing we use) into `dir`.
bool make_certificates(const std::string& dir) {
  const std::string d = "'" + dir + "'";
  const std::string script =
      "set -e; cd " + d +
      "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=dc-test-ca"
      "; openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost"
      "; printf 'subjectAltName=DNS:localhost\\n' > ext.cnf"
      "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2"
      " -extfile ext.cnf"
      "; openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2"
      " -subj /CN=dc-other-ca"
      "; chmod 644 *.pem *.key";
  std::string out;
  const int rc = dc::test::run_shell("sh -c \"" + script + "\" 2>&1", &out);
  if (rc != 0) ADD_FAILURE() << "openssl: " << out;
  return rc == 0;
}

TEST(Tls, VerifiesTheBrokerCertificate) {
  DC_REQUIRE_RABBIT();  // the TLS node is private, but only run where brokers are expected
  char tmpl[] = "/tmp/dc-broker-tls-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string certs = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { dc::test::run_shell("rm -rf '" + dir + "'"); }
  } cleanup{certs};
  ASSERT_TRUE(make_certificates(certs));

  test::PrivateNode node(dc::test::private_broker_port(6),
                         "DC_RABBIT_TLS_PORT=" + std::to_string(dc::test::private_broker_port(7)) +
                             " DC_RABBIT_TLS_CA=" + certs + "/ca.pem DC_RABBIT_TLS_CERT=" + certs +
                             "/server.pem DC_RABBIT_TLS_KEY=" + certs + "/server.key");
  std::string out;
  ASSERT_EQ(node.run("start", &out), 0) << out;

  ConnectionSettings tls = node.settings();
  tls.endpoints = {{"localhost", dc::test::private_broker_port(7)}};
  tls.tls.enabled = true;
  tls.tls.ca_file = certs + "/ca.pem";

  {
    SCOPED_TRACE("trusted CA, matching host name: works end to end");
    auto conn = Connection::open(tls);
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    EXPECT_NE(conn->describe().find("amqps://"), std::string::npos);
    CommandTopology t{"dc_commands", "dc-tls-q", QueueType::classic};
    ASSERT_TRUE(declare_command_topology(*conn, t).ok());
    auto publisher = Publisher::create(std::move(*conn));
    ASSERT_TRUE(publisher.ok()) << publisher.error().message();
    OutgoingMessage m;
    m.exchange = t.exchange;
    m.routing_key = t.queue;
    m.body = R"({"app_id":"x","command":2})";
    ASSERT_EQ(publisher->publish(m).outcome, PublishOutcome::confirmed);
    auto cconn = Connection::open(tls);
    ASSERT_TRUE(cconn.ok()) << cconn.error().message();
    auto consumer = Consumer::start(std::move(*cconn), {t.queue, 1, ""});
    ASSERT_TRUE(consumer.ok()) << consumer.error().message();
    auto d = consumer->next(5s);
    ASSERT_TRUE(d.ok() && d->has_value());
    EXPECT_EQ((*d)->body, m.body);
    EXPECT_TRUE(consumer->ack((*d)->delivery_tag).ok());
  }
  {
    SCOPED_TRACE("certificate signed by another CA: refused, says what to set");
    ConnectionSettings s = tls;
    s.tls.ca_file = certs + "/other-ca.pem";
    auto conn = Connection::open(s);
    ASSERT_FALSE(conn.ok());
    EXPECT_EQ(conn.error().code(), Errc::auth) << conn.error().message();
    EXPECT_NE(conn.error().message().find("not trusted"), std::string::npos) << conn.error().message();
    EXPECT_NE(conn.error().message().find("other-ca.pem"), std::string::npos) << conn.error().message();
    EXPECT_NE(conn.error().message().find("rabbit_tls_ca"), std::string::npos) << conn.error().message();
  }
  {
    SCOPED_TRACE("trusted CA but the certificate does not name the host");
    ConnectionSettings s = tls;
    s.endpoints = {{"127.0.0.1", dc::test::private_broker_port(7)}};
    auto conn = Connection::open(s);
    ASSERT_FALSE(conn.ok());
    EXPECT_EQ(conn.error().code(), Errc::auth) << conn.error().message();
    EXPECT_NE(conn.error().message().find("127.0.0.1"), std::string::npos) << conn.error().message();
  }
  {
    SCOPED_TRACE("verification off: the wrong CA is accepted (why it defaults to on)");
    ConnectionSettings s = tls;
    s.tls.ca_file = certs + "/other-ca.pem";
    s.tls.verify = false;
    auto conn = Connection::open(s);
    EXPECT_TRUE(conn.ok()) << conn.error().message();
  }
  {
    SCOPED_TRACE("missing CA file: io error naming it");
    ConnectionSettings s = tls;
    s.tls.ca_file = certs + "/no-such-ca.pem";
    auto conn = Connection::open(s);
    ASSERT_FALSE(conn.ok());
    EXPECT_EQ(conn.error().code(), Errc::io) << conn.error().message();
    EXPECT_NE(conn.error().message().find("no-such-ca.pem"), std::string::npos) << conn.error().message();
  }
  {
    SCOPED_TRACE("TLS client against the plain AMQP port: fails fast");
    ConnectionSettings s = tls;
    s.endpoints = {{"localhost", dc::test::private_broker_port(6)}};
    const auto start = std::chrono::steady_clock::now();
    auto conn = Connection::open(s);
    ASSERT_FALSE(conn.ok());
    EXPECT_EQ(conn.error().code(), Errc::unavailable) << conn.error().message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  }
  {
    SCOPED_TRACE("plain client against the TLS port: fails within the connect timeout");
    ConnectionSettings s = node.settings();
    s.endpoints = {{"127.0.0.1", dc::test::private_broker_port(7)}};
    s.connect_timeout = 1500ms;
    const auto start = std::chrono::steady_clock::now();
    auto conn = Connection::open(s);
    ASSERT_FALSE(conn.ok());
    EXPECT_EQ(conn.error().code(), Errc::unavailable) << conn.error().message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  }
}

}  // namespace
}  // namespace dc::broker
