"""The proxy process: the Rust data plane, the plugin host, and live config from the admin.

`runtime` runs the pieces (bridge, plugin host, core Proxy, health reporting) and swaps
namespaces in and out while serving; `watcher` long-polls the admin for config versions
and hands each one to the runtime; `namespaces` turns admin specs into validated
namespace configs and plugins; `last_config` keeps the last known config on disk for
starts while the admin is down.
"""
