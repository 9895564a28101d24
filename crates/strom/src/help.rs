//! `--help`: nats-server's usage text, with what Strom does not serve yet marked.

pub const USAGE: &str = "\
Usage: strom [server] [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to strom process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/strom.pid)
        --client_advertise <string>  Client URL to advertise to other servers (not yet served)
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
        --logtime_utc                Timestamps in UTC instead of local timezone (default: false)
    -s, --syslog                     Log to syslog or windows event log (not yet served)
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514) (not yet served)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
        --log_size_limit <limit>     Logfile size limit (default: auto)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)
        --log_format <text|json>     Log lines as nats-server's text or one JSON object each (default: text)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options (not yet served):
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Profiling Options:
        --profile <port>             Profiling HTTP port (not yet served)

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help
";

/// `--help_tls`: the `tls` block, as served.
pub const TLS: &str = "\
TLS is served with rustls, on the client port and, with -ms/https_port, on the monitoring port.

Server configuration file:
    tls {
        cert_file: \"./certs/server.pem\"      # server certificate (chain), PEM
        key_file: \"./certs/server-key.pem\"   # its private key, PEM
        ca_file: \"./certs/ca.pem\"            # CA that client certificates must chain to
        verify: true                         # require and verify client certificates
        verify_and_map: true                 # ... and take the user from the certificate
        timeout: 2                           # seconds allowed for the handshake
        handshake_first: true                # TLS before the INFO line
    }

The same from the command line: --tls, --tlscert, --tlskey, --tlsverify, --tlscacert.
Protocol versions and cipher suites are rustls's safe defaults (TLS 1.2 and 1.3).
";
