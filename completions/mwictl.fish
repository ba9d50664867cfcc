# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mwictl_global_optspecs
    string join \n auth-server= i/identity= c/config= proxy= insecure format= yes v/verbose q/quiet h/help V/version
end

function __fish_mwictl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mwictl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mwictl_using_subcommand
    set -l cmd (__fish_mwictl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mwictl -n "__fish_mwictl_needs_command" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_needs_command" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_needs_command" -s c -l config -d 'teleport.yaml of the auth host this runs on: with its auth service enabled, use the local Admin identity from its data dir, as tctl does [default: /etc/teleport.yaml if it exists]. Give it before the subcommand' -r -F
complete -c mwictl -n "__fish_mwictl_needs_command" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_needs_command" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_needs_command" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_needs_command" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_needs_command" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_needs_command" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_needs_command" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "lab" -d 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "ping" -d 'Check the connection to the auth service: cluster name, server version, and which address and credentials were used (from flags, the saved profile or a tsh profile)'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "doctor" -d 'Diagnose tbot from its logs: name the incident (S1–S7 or another), show the evidence lines, explain the cause and print the exact fix (the mwictl command and the tctl equivalent)'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "lint" -d 'Check tbot.yaml files: schema (unknown keys with "did you mean", wrong types, v1 and deprecated `outputs:`), and the rules behind the troubleshooting guide\'s incidents (kubernetes_secret without disable_exec_plugin, auth_server with ssh_config on, split-DNS proxies, shared or network-mounted storage, TTLs, token paths, duplicate destinations)'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "get" -d 'Print resources: every one of a kind, or one by name'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "rm" -d 'Delete a resource: lock/NAME, role/NAME, token/NAME, bot/NAME or bot_instance/BOT/UUID'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "create" -d 'Create resources from a file in tctl\'s format (YAML documents or JSON), or from stdin'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "edit" -d 'Edit a resource in your editor: lock/NAME, role/NAME, token/NAME or bot/NAME'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "unlock" -d 'Remove every lock that blocks a bot, or the locks named by ID, with a backup'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "locks" -d 'List and add locks (remove them with `mwictl unlock`)'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "tokens" -d 'List, add and remove bot join tokens'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "roles" -d 'Inspect roles and fix them in one command: add or remove logins, add database access'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "bots" -d 'Bots: list with their health, show, add, remove, update, recreate; their instances'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "recover" -d 'Recover a bot: diagnose it, show the plan, fix it, update tbot.yaml and verify'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "triage" -d 'Rank every bot by what needs attention, each reason with the command that fixes it'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "fleet" -d 'Fleet monitoring: serve the triage as Prometheus metrics'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "demo" -d 'Watch a bot break and recover, end to end, in a throwaway lab (a few seconds)'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "completions" -d 'Print the shell completion script for SHELL to stdout'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "start" -d 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "bot" -d 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "break" -d 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "db" -d 'Register databases in the lab, as database agents or auto-discovery would'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "user" -d 'Write an identity file for a normal user of the lab (created or updated with these roles)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "keypair" -d 'Bound keypairs for the lab agent, as `tbot keypair`'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "seed" -d 'Fill the lab with a synthetic fleet: bots, live instances and locks'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "snapshot" -d 'Save a consistent copy of the lab\'s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "restore" -d 'Roll the lab\'s database back to a snapshot, as restoring an auth backend from a backup does'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start bot break db user keypair seed snapshot restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l data-dir -d 'Where the CA, the admin identity and the database live [default: $MWICTL_HOME/lab]' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l listen -d 'Address to listen on; port 0 picks a free port' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l cluster-name -d 'Cluster name, fixed on the first start [default: the stored name, else "lab"]' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l lock-style -d 'What a bot\'s certificate generation mismatch locks: the bot\'s user (Teleport up to v18) or only the bot instance (newer Teleport)' -r -f -a "user\t'Lock `user: bot-NAME` (Teleport v16–v18)'
instance\t'Lock `bot_instance_id` (newest Teleport)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l tsh-home -d 'Also log a lab admin user in as tsh would: write a tsh profile (v17+ layout) with a normal user\'s certificate (role admin, 12h) into DIR and make it DIR\'s current profile. Use it with `TELEPORT_HOME=DIR`; its proxy is --proxy-listen\'s (without one, add --auth-server)' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l bot-ttl -d 'Lifetime of the certificates bots get, e.g. 1h or 20m' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l proxy-listen -d 'Also run a proxy with TLS routing here (HTTPS with a lab web certificate, whose CA is DATA_DIR/web-ca.crt): it answers /webapi/find and /webapi/ping and passes `teleport-auth@…` connections to the lab auth untouched. Reach it with --proxy' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l proxy-public-addr -d 'The address the proxy advertises as its public address in /webapi/find (a name only some networks resolve, to reproduce split DNS) [default: the --proxy-listen address]' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l no-profile -d 'Leave the saved profile as it is (plain `mwictl` commands keep using the lab it names); reach this lab with --auth-server and -i'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l proxy-l7 -d 'Make the proxy behave like an L7 load balancer in front of Teleport (an AWS ALB, say): it ends TLS with the web certificate and negotiates only http/1.1, so clients reach auth with the connection upgrade (GET /webapi/connectionupgrade, a WebSocket)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l admin-mfa -d 'Refuse admin-level requests (writes and deletes) without MFA, as a cluster whose only second factor is WebAuthn does; exempt are bots, certificates bots issued and the lab\'s admin, not normal users (`mwictl lab user`)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -s c -l config -d 'tbot.yaml (v2) to read; flags given here override it' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l data-dir -d 'Internal data directory (tbot\'s storage): key, tlscert, key-cert.pub, tlscacerts, sshcacerts, tokenhash, lock' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l token -d 'Join token (for bound_keypair, the token\'s name), or an absolute path to a file holding it' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l join-method -d 'Join method: token or bound_keypair [default: token]' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l registration-secret -d 'bound_keypair: the token\'s registration secret, for the first join without a preregistered key (else TBOT_REGISTRATION_SECRET)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l join-uri -d 'A joining URI as `tctl bots add` prints it, e.g. tbot+auth+bound-keypair://TOKEN:SECRET@HOST:PORT; it overrides the address, method, token and secret given otherwise' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l renewal-interval -d 'How often to renew the bot identity (Go duration) [default: 20m]' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l credential-ttl -d 'Lifetime to request for certificates (Go duration) [default: 1h]' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l log-format -d 'Log format' -r -f -a "text\t'tbot\'s text lines'
json\t'One JSON object per line, keys as Teleport\'s JSON logger writes them'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l log-file -d 'Also append the log to this file' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l ca-path -d 'CA certificate (PEM) that verifies the auth server on the first join' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l ca-pin -d 'SHA-256 of the CA\'s SubjectPublicKeyInfo (`sha256:HEX`, as `tctl status` prints), verifying the auth server on the first join; repeatable' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l roles -d 'Roles to request for outputs that list none; without any, an output gets every role the bot may impersonate, as in tbot 19 (which removed per-output roles)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l destination-dir -d 'Add an identity output to this directory' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l ssh-login -d 'Lab only: after writing each identity output, check that its certificate allows this SSH login, logging the refusal as `ssh` would (`mwictl lab break ssh-login`)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l retry-base -d 'First wait between failed renewal attempts (doubles each time)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l oneshot -d 'Join or renew once, write the outputs, and exit'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l no-data-dir-lock -d 'Do not lock the data directory, so that two agents can share it (reproduces a generation mismatch)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l insecure -d 'Do not verify the auth server on the first join (lab use only)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from bot" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l bot -d 'The bot to break (created if missing)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l dir -d 'Working directory for tbot.yaml, tbot.log, data/ and out/ [default: $MWICTL_HOME/lab-bots/NAME]. It must be new, empty, or one lab break used before' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l login -d 'ssh-login: the SSH login the bot\'s identity output asks for (its role allows only alice)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l db -d 'db-access: the database registered in the lab that the bot\'s output asks for' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l delete -d 'bk-token-wiped: delete the bot\'s token instead of re-applying it without its status'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from break" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -f -a "add" -d 'Register a database in the lab (or replace the labels of one registered before)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from db" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -l roles -d 'Roles of the user (repeatable or comma-separated)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -s o -l out -d 'Where to write the identity file (mode 0600, replaced atomically)' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -l ttl -d 'How long the identity is valid, e.g. 12h or 30s' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -l data-dir -d 'The lab\'s data dir [default: the saved profile\'s lab, else $MWICTL_HOME/lab]' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from user" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -f -a "create" -d 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from keypair" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -l bots -d 'How many bots to add' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -l instances -d 'How many bot instances to add (spread over the bots; needs --bots)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -l locks -d 'How many locks to add' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from seed" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -l out -d 'The file to write (it must not exist) [default: DATA_DIR/snapshots/lab-TIME.db]' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -l data-dir -d 'The lab\'s data dir [default: the saved lab profile\'s, else $MWICTL_HOME/lab]' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from snapshot" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -l data-dir -d 'The lab\'s data dir [default: the saved lab profile\'s, else $MWICTL_HOME/lab]' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from restore" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "start" -d 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "bot" -d 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "break" -d 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "db" -d 'Register databases in the lab, as database agents or auto-discovery would'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "user" -d 'Write an identity file for a normal user of the lab (created or updated with these roles)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "keypair" -d 'Bound keypairs for the lab agent, as `tbot keypair`'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "seed" -d 'Fill the lab with a synthetic fleet: bots, live instances and locks'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "snapshot" -d 'Save a consistent copy of the lab\'s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Roll the lab\'s database back to a snapshot, as restoring an auth backend from a backup does'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -l bot -d 'The bot the logs belong to: named in the fix commands and checked by --live when the lines do not name it (a finding whose lines name another bot says so)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -l live -d 'Also ask the auth service whether each incident is still current (the lock still in force, the role still lacking the rule; for `database "x" not found`, whether x is registered, was renamed by auto-discovery, or is not registered at all; for the bound-keypair incidents S8–S12, each token\'s recovery mode, count and limit, bound key and instance, and the locks on its bot)'
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l env -d 'A variable of tbot\'s environment, e.g. TBOT_USE_PROXY_ADDR=yes; repeatable. Set after --unit\'s, so it overrides them' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l unit -d 'The systemd unit tbot runs from: its `Environment=` lines and the `EnvironmentFile=` files it names (`-` before a path: may be missing) are tbot\'s environment' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l teleport-version -d 'The Teleport release tbot runs (e.g. 17.4.2); judges the configs against it. `17` or `17.4` stand for the newest release of that line' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l tbot -d 'A tbot binary: its `tbot version` is the release to judge against (without this, a `tbot` on PATH is used when there is one)' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l fix -d 'Apply the safe fixes in place (only the needed bytes change; comments and formatting are kept), atomically, with a PATH.bak backup; prints the diff'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l on-host -d 'Lint runs on the bot\'s host: check paths and file systems here, and ask `auth_server` whether a Teleport proxy answers (`https://ADDRESS/webapi/find`, 3 s timeouts, the certificate not verified). Without it those checks are notes, not checked here'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l live -d 'Ask the cluster (connects like every command: --auth-server/--identity or the profile): judge against its release (a Ping), and judge a bound-keypair static key against its token (recovery mode insecure, no `rotate_after`)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lint" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -l force -d 'With role/NAME: delete it even when bots use it (they lose what it granted)'
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand rm" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -s f -l force -d 'Overwrite resources that already exist'
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -l restore-status -d 'Write the `status` of join tokens from the file (restoring a backup: the bound key, bot instance and recovery count) instead of keeping the server\'s. With -f an existing token is deleted and created again, the one way Teleport writes a given status'
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand create" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -l force -d 'Overwrite even when the resource changed on the server since the edit began'
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand edit" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l bot -d 'Remove the locks that block this bot' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l scan-all -d 'With --bot: download every lock and also match locks on expired instance records by their message (slower with many locks)'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l dry-run -d 'Show the locks that would be removed, and remove nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l plan -d 'With --bot or --resume: print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l resume -d 'Continue the last interrupted or failed `unlock --bot` run (of any bot)'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l new-run -d 'With --bot: start a new run even if an unfinished one exists for the bot (that one is marked abandoned; its backup stays)'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand unlock" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -f -a "ls" -d 'List locks: ID, target, message, created, expires (`never` when a lock does not end)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -f -a "add" -d 'Add a lock: every API call matching its target is refused while it is in force'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and not __fish_seen_subcommand_from ls add help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -l bot -d 'Only the locks that target this bot' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -l in-force -d 'Only the locks in force now (not those whose end has passed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l user -d 'Lock this user (a bot\'s user is `bot-NAME`)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l role -d 'Lock everyone holding this role' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l login -d 'Lock this login (OS user) on SSH servers' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l bot-instance-id -d 'Lock one bot instance by its UUID' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l join-token -d 'Lock the bots joined with this token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l message -d 'Why: shown to whoever the lock refuses' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l ttl -d 'End the lock after this long, e.g. 30m or 12h' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l expires -d 'End the lock at this time (RFC 3339, e.g. 2026-01-02T15:04:05Z)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List locks: ID, target, message, created, expires (`never` when a lock does not end)'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a lock: every API call matching its target is refused while it is in force'
complete -c mwictl -n "__fish_mwictl_using_subcommand locks; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -f -a "ls" -d 'List join tokens: token, type (roles), join method, bot, expiry'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -f -a "add" -d 'Issue a join token for a bot (a new bot instance joins with it)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -f -a "rm" -d 'Delete a join token, so nothing can join with it any more'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -f -a "show" -d 'Show a join token. For a bound_keypair token: the bound key\'s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -f -a "rotate" -d 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -f -a "mode" -d 'Set a bound_keypair token\'s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot\'s key can recover it)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and not __fish_seen_subcommand_from ls add rm show rotate mode help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -l show-secrets -d 'Show the tokens\' full names'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l bot -d 'The bot the token joins as' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l ttl -d 'How long the token (bound_keypair: its registration secret) stays valid, e.g. 30m or 2h' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l join-method -d 'The join method of the token' -r -f -a "token\t''
bound_keypair\t''"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l initial-public-key -d 'bound_keypair: the bot\'s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l recovery-mode -d 'bound_keypair: standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)' -r -f -a "standard\t''
relaxed\t''
insecure\t''"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l recovery-limit -d 'bound_keypair: how many recoveries mode standard allows; onboarding is the first' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from rotate" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from mode" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List join tokens: token, type (roles), join method, bot, expiry'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "add" -d 'Issue a join token for a bot (a new bot instance joins with it)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Delete a join token, so nothing can join with it any more'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a join token. For a bound_keypair token: the bound key\'s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "mode" -d 'Set a bound_keypair token\'s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot\'s key can recover it)'
complete -c mwictl -n "__fish_mwictl_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -f -a "ls" -d 'List roles: name, allowed logins, node labels and access to resources (rules)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -f -a "list" -d 'List roles: name, allowed logins, node labels and access to resources (rules)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -f -a "show" -d 'Show one role as YAML (the default, also for --format text) or JSON'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -f -a "add-db-access" -d 'Give a role database access: the rule and the db_labels, db_names and db_users grants'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -f -a "add-login" -d 'Add SSH logins (principals) to a role\'s allow.logins'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -f -a "remove-login" -d 'Remove SSH logins from a role\'s allow.logins'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and not __fish_seen_subcommand_from ls list show add-db-access add-login remove-login help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l db-labels -d 'Database labels to match, KEY=VALUE; repeat the flag or separate with commas. `\'*=*\'` matches every database' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l db-names -d 'Database names (inside the database server) to allow; `*` for any' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l db-users -d 'Database users to allow; `*` for any' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l dry-run -d 'Show the diff only; write nothing (exit 0)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-db-access" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -l dry-run -d 'Show the diff only; write nothing (exit 0)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from add-login" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -l dry-run -d 'Show the diff only; write nothing (exit 0)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from remove-login" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List roles: name, allowed logins, node labels and access to resources (rules)'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one role as YAML (the default, also for --format text) or JSON'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "add-db-access" -d 'Give a role database access: the rule and the db_labels, db_names and db_users grants'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "add-login" -d 'Add SSH logins (principals) to a role\'s allow.logins'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "remove-login" -d 'Remove SSH logins from a role\'s allow.logins'
complete -c mwictl -n "__fish_mwictl_using_subcommand roles; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "ls" -d 'List bots with their lock state, live instances and join tokens'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "show" -d 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "add" -d 'Create a bot and its join token, like `tctl bots add`'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "rm" -d 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "update" -d 'Change a bot\'s roles, logins or max session TTL'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "recreate" -d 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "can" -d 'Check whether the bot may log in as LOGIN or read database DB, from its roles'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "instances" -d 'List, show and add bot instances (each tbot that joined is one)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and not __fish_seen_subcommand_from ls show add rm update recreate can instances help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l roles -d 'Roles the bot\'s outputs may use (it impersonates them), comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l logins -d 'SSH logins, kept in the bot\'s `logins` trait, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l max-session-ttl -d 'The longest certificate the bot may get, like 12h (the server\'s default is 12h)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l token-ttl -d 'How long the join token (bound-keypair: its registration secret) stays valid' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l initial-public-key -d 'The bot\'s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l recovery-mode -d 'standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)' -r -f -a "standard\t''
relaxed\t''
insecure\t''"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l recovery-limit -d 'How many recoveries mode standard allows; onboarding is the first [default: 1]' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l legacy -d 'Issue a one-time `token` join (what tctl did before Teleport 19) instead of a bound-keypair token'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l keep-locks -d 'Keep locks that already target the name; the bot stays blocked until `mwictl unlock --bot NAME`'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -l keep-locks -d 'Keep the bot\'s locks; a bot created again with this name stays blocked until `mwictl unlock --bot NAME`'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l add-roles -d 'Roles to add, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l remove-roles -d 'Roles to remove, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l set-roles -d 'Replace the roles with these, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l add-logins -d 'Logins to add to the `logins` trait, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l remove-logins -d 'Logins to remove, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l set-logins -d 'Replace the logins with these, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l set-max-session-ttl -d 'The longest certificate the bot may get, like 12h' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l roles -d 'Create it with these roles instead of its current ones, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l add-roles -d 'Roles to add to its current ones, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l remove-roles -d 'Roles to drop from its current ones, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l logins -d 'Create it with these logins instead of its current ones, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l add-logins -d 'Logins to add to its current ones, comma-separated' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l max-session-ttl -d 'Create it with this max session TTL, like 12h' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l token-ttl -d 'How long the join token stays valid' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l resume -d 'Continue the last interrupted or failed `bots recreate` run (of any bot)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l new-run -d 'Start a new run even if an unfinished one exists for this bot (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from recreate" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -a "ssh" -d 'May the bot\'s outputs log in over SSH as LOGIN (be issued it as a principal)?'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -a "db" -d 'May the bot\'s outputs read database DB (get a database certificate for it)?'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from can" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -f -a "ls" -d 'List bot instances: ID, join method, version, hostname, status, last seen, locked'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -f -a "show" -d 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -f -a "add" -d 'Issue a join token for a new instance of a bot'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -f -a "join" -d 'Issue a join token for a new instance of a bot'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from instances" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List bots with their lock state, live instances and join tokens'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "add" -d 'Create a bot and its join token, like `tctl bots add`'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a bot\'s roles, logins or max session TTL'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "recreate" -d 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "can" -d 'Check whether the bot may log in as LOGIN or read database DB, from its roles'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "instances" -d 'List, show and add bot instances (each tbot that joined is one)'
complete -c mwictl -n "__fish_mwictl_using_subcommand bots; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l run -d 'With --resume: continue this run (its id, as reports and journal file names give it) instead of the newest' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l resume -d 'Continue the last interrupted or failed recovery run (of any bot and flow)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "generation-mismatch" -d 'Recover a bot locked after a certificate generation mismatch (S1)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "expired" -d 'Recover a bot whose identity expired (S2)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "ssh-login" -d 'Let a bot log in over SSH as LOGIN (S3)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "db-access" -d 'Let a bot reach database DB (S4)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "bk-exhausted" -d 'Recover a bound-keypair bot whose recovery limit is used up (S8)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "bk-join-state" -d 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "bk-token-wiped" -d 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "bk-keypair-lost" -d 'Recover a bound-keypair bot that lost its private key (S11)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "bk-rollback" -d 'Let every bound-keypair bot rejoin after an auth backend restore (S12)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and not __fish_seen_subcommand_from generation-mismatch expired ssh-login db-access bk-exhausted bk-join-state bk-token-wiped bk-keypair-lost bk-rollback help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l bot -d 'The bot to recover' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l bots -d 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l parallel -d 'How many bots a bulk run recovers at once' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l all-locked -d 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot\'s name'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from generation-mismatch" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l bot -d 'The bot to recover' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l bots -d 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l parallel -d 'How many bots a bulk run recovers at once' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l all-locked -d 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot\'s name'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from expired" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l bot -d 'The bot to fix' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l login -d 'The SSH login (Unix user) the bot must be allowed' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l role -d 'Add the login to this role (one the bot impersonates)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l trait -d 'Add the login to the bot\'s `logins` trait instead of a role'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from ssh-login" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l bot -d 'The bot to fix' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l db -d 'The Teleport database resource name (tbot\'s database output `service`)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l db-user -d 'The database user tbot connects as (its `username`), added to db_users' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l db-name -d 'The database name inside it (tbot\'s `database`), added to db_names' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l db-labels -d 'Labels to add to the role\'s db_labels, KEY=VALUE (repeatable or comma-separated); needed when no role of the bot has db_labels. `tsh db ls` shows the database\'s labels' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l role -d 'Add the access to this role (one the bot impersonates) [default: the role the access check names, else the bot\'s first role]' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l recreate -d 'Instead of editing a role, recreate the bot with ROLE (an existing role that grants the database) added to its roles, keeping everything else; a new join token is issued' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from db-access" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l bot -d 'The bot to recover' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l bots -d 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l parallel -d 'How many bots a bulk run recovers at once' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l token -d 'The bound-keypair token tbot joins with, when the bot has several' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l spare -d 'Recoveries above recovery_count the new limit allows (1: this recovery only)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l all-locked -d 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot\'s name'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l relaxed -d 'Set recovery mode relaxed instead of raising the limit (it stays relaxed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-exhausted" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l bot -d 'The bot to recover' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l token -d 'The bound-keypair token tbot joins with, when the bot has several' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-join-state" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l bot -d 'The bot to recover' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l token -d 'The token to recreate (default: the bot\'s only bound-keypair token, or the one tbot.yaml\'s onboarding.token names); needed when it was deleted and no --tbot-config is given' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l storage -d 'tbot\'s storage directory (storage.path in tbot.yaml): the bot\'s public key is its id_bkp.pub, its join state names the bot instance and recovery count to restore' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l public-key -d 'The bot\'s public key in authorized_keys form (the content of id_bkp.pub), or @FILE' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-token-wiped" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l bot -d 'The bot to recover' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l token -d 'The bot\'s bound-keypair token, when it has several (default: its only one, or the one tbot.yaml\'s onboarding.token names)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l storage -d 'tbot\'s storage directory (storage.path in tbot.yaml): its stale key files are moved into the run\'s backups, never deleted' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l public-key -d 'Preregister this new public key (`tbot keypair create` prints it; or @FILE) instead of a registration secret' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-keypair-lost" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l bots -d 'Only these bots (comma-separated); every bot with a bound-keypair token when omitted' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l tbot-config -d 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token\'s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot\'s name' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l restart-cmd -d 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot\'s name' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l wait -d 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l token-ttl -d 'Lifetime of the new one-time join token' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l plan -d 'Print the plan (text, or JSON with --format json) and change nothing'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l new-run -d 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from bk-rollback" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "generation-mismatch" -d 'Recover a bot locked after a certificate generation mismatch (S1)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "expired" -d 'Recover a bot whose identity expired (S2)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "ssh-login" -d 'Let a bot log in over SSH as LOGIN (S3)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "db-access" -d 'Let a bot reach database DB (S4)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "bk-exhausted" -d 'Recover a bound-keypair bot whose recovery limit is used up (S8)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "bk-join-state" -d 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "bk-token-wiped" -d 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "bk-keypair-lost" -d 'Recover a bound-keypair bot that lost its private key (S11)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "bk-rollback" -d 'Let every bound-keypair bot rejoin after an auth backend restore (S12)'
complete -c mwictl -n "__fish_mwictl_using_subcommand recover; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -l renewal-interval -d 'tbot\'s renewal interval: an identity that expires sooner has missed its renewals' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -l stale-after -d 'A live instance whose newest heartbeat is older than this is stale' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand triage" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -f -a "serve" -d 'Serve the fleet\'s triage as Prometheus metrics at http://ADDR/metrics'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and not __fish_seen_subcommand_from serve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l listen -d 'The address to listen on, like 127.0.0.1:9464 (port 0: any free port, printed)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l interval -d 'How often to refresh the triage' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l renewal-interval -d 'tbot\'s renewal interval: an identity that expires sooner has missed its renewals' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l stale-after -d 'A live instance whose newest heartbeat is older than this is stale' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from serve" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Serve the fleet\'s triage as Prometheus metrics at http://ADDR/metrics'
complete -c mwictl -n "__fish_mwictl_using_subcommand fleet; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -l keep -d 'Keep the temp dir (lab data, the bot\'s tbot.yaml and log, the recovery journal and backups) to look at afterwards'
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand demo" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'
prometheus\t'Prometheus text exposition, for node_exporter\'s textfile collector (`mwictl triage` only)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l insecure -d 'Do not check the proxy\'s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity\'s CA), as tctl\'s --insecure'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "lab" -d 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "ping" -d 'Check the connection to the auth service: cluster name, server version, and which address and credentials were used (from flags, the saved profile or a tsh profile)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "doctor" -d 'Diagnose tbot from its logs: name the incident (S1–S7 or another), show the evidence lines, explain the cause and print the exact fix (the mwictl command and the tctl equivalent)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "lint" -d 'Check tbot.yaml files: schema (unknown keys with "did you mean", wrong types, v1 and deprecated `outputs:`), and the rules behind the troubleshooting guide\'s incidents (kubernetes_secret without disable_exec_plugin, auth_server with ssh_config on, split-DNS proxies, shared or network-mounted storage, TTLs, token paths, duplicate destinations)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "get" -d 'Print resources: every one of a kind, or one by name'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "rm" -d 'Delete a resource: lock/NAME, role/NAME, token/NAME, bot/NAME or bot_instance/BOT/UUID'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "create" -d 'Create resources from a file in tctl\'s format (YAML documents or JSON), or from stdin'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "edit" -d 'Edit a resource in your editor: lock/NAME, role/NAME, token/NAME or bot/NAME'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "unlock" -d 'Remove every lock that blocks a bot, or the locks named by ID, with a backup'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "locks" -d 'List and add locks (remove them with `mwictl unlock`)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "tokens" -d 'List, add and remove bot join tokens'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "roles" -d 'Inspect roles and fix them in one command: add or remove logins, add database access'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "bots" -d 'Bots: list with their health, show, add, remove, update, recreate; their instances'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "recover" -d 'Recover a bot: diagnose it, show the plan, fix it, update tbot.yaml and verify'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "triage" -d 'Rank every bot by what needs attention, each reason with the command that fixes it'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "fleet" -d 'Fleet monitoring: serve the triage as Prometheus metrics'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "demo" -d 'Watch a bot break and recover, end to end, in a throwaway lab (a few seconds)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "completions" -d 'Print the shell completion script for SHELL to stdout'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping doctor lint get rm create edit unlock locks tokens roles bots recover triage fleet demo completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "start" -d 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "bot" -d 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "break" -d 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "db" -d 'Register databases in the lab, as database agents or auto-discovery would'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "user" -d 'Write an identity file for a normal user of the lab (created or updated with these roles)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "keypair" -d 'Bound keypairs for the lab agent, as `tbot keypair`'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "seed" -d 'Fill the lab with a synthetic fleet: bots, live instances and locks'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "snapshot" -d 'Save a consistent copy of the lab\'s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "restore" -d 'Roll the lab\'s database back to a snapshot, as restoring an auth backend from a backup does'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from locks" -f -a "ls" -d 'List locks: ID, target, message, created, expires (`never` when a lock does not end)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from locks" -f -a "add" -d 'Add a lock: every API call matching its target is refused while it is in force'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "ls" -d 'List join tokens: token, type (roles), join method, bot, expiry'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "add" -d 'Issue a join token for a bot (a new bot instance joins with it)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "rm" -d 'Delete a join token, so nothing can join with it any more'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "show" -d 'Show a join token. For a bound_keypair token: the bound key\'s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "rotate" -d 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "mode" -d 'Set a bound_keypair token\'s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot\'s key can recover it)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from roles" -f -a "ls" -d 'List roles: name, allowed logins, node labels and access to resources (rules)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from roles" -f -a "show" -d 'Show one role as YAML (the default, also for --format text) or JSON'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from roles" -f -a "add-db-access" -d 'Give a role database access: the rule and the db_labels, db_names and db_users grants'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from roles" -f -a "add-login" -d 'Add SSH logins (principals) to a role\'s allow.logins'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from roles" -f -a "remove-login" -d 'Remove SSH logins from a role\'s allow.logins'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "ls" -d 'List bots with their lock state, live instances and join tokens'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "show" -d 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "add" -d 'Create a bot and its join token, like `tctl bots add`'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "rm" -d 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "update" -d 'Change a bot\'s roles, logins or max session TTL'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "recreate" -d 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "can" -d 'Check whether the bot may log in as LOGIN or read database DB, from its roles'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from bots" -f -a "instances" -d 'List, show and add bot instances (each tbot that joined is one)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "generation-mismatch" -d 'Recover a bot locked after a certificate generation mismatch (S1)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "expired" -d 'Recover a bot whose identity expired (S2)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "ssh-login" -d 'Let a bot log in over SSH as LOGIN (S3)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "db-access" -d 'Let a bot reach database DB (S4)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "bk-exhausted" -d 'Recover a bound-keypair bot whose recovery limit is used up (S8)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "bk-join-state" -d 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "bk-token-wiped" -d 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "bk-keypair-lost" -d 'Recover a bound-keypair bot that lost its private key (S11)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from recover" -f -a "bk-rollback" -d 'Let every bound-keypair bot rejoin after an auth backend restore (S12)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from fleet" -f -a "serve" -d 'Serve the fleet\'s triage as Prometheus metrics at http://ADDR/metrics'
