#!/usr/bin/env bash
# RabbitMQ (Debian) for the AMQP 1.0 wire-compatibility tests of our Service Bus client. No service is started here:
# the test fixture runs a private node on 127.0.0.1 with its own ports and data dir, and stops it.
set -euo pipefail
. "$(dirname "$0")/apt.bash" # apt_get / apt_get_update: wait for the dpkg and apt lists locks
if command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "11-rabbitmq: not root, skipping the install (the RabbitMQ wire tests will be skipped with this reason)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt_get install -y -qq --no-install-recommends rabbitmq-server >/dev/null 2>&1; then
  apt_get_update -qq
  apt_get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
fi
# The package may have started a system node (where policy-rc.d allows it); the tests never use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet rabbitmq-server 2>/dev/null; then
  systemctl stop rabbitmq-server || true
  systemctl disable rabbitmq-server >/dev/null 2>&1 || true
fi
echo "11-rabbitmq: rabbitmq-server installed"
