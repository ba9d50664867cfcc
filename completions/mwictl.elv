
use builtin;
use str;

set edit:completion:arg-completer[mwictl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mwictl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mwictl'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand -c 'teleport.yaml of the auth host this runs on: with its auth service enabled, use the local Admin identity from its data dir, as tctl does [default: /etc/teleport.yaml if it exists]. Give it before the subcommand'
            cand --config 'teleport.yaml of the auth host this runs on: with its auth service enabled, use the local Admin identity from its data dir, as tctl does [default: /etc/teleport.yaml if it exists]. Give it before the subcommand'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand lab 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests'
            cand ping 'Check the connection to the auth service: cluster name, server version, and which address and credentials were used (from flags, the saved profile or a tsh profile)'
            cand doctor 'Diagnose tbot from its logs: name the incident (S1–S7 or another), show the evidence lines, explain the cause and print the exact fix (the mwictl command and the tctl equivalent)'
            cand lint 'Check tbot.yaml files: schema (unknown keys with "did you mean", wrong types, v1 and deprecated `outputs:`), and the rules behind the troubleshooting guide''s incidents (kubernetes_secret without disable_exec_plugin, auth_server with ssh_config on, split-DNS proxies, shared or network-mounted storage, TTLs, token paths, duplicate destinations)'
            cand get 'Print resources: every one of a kind, or one by name'
            cand rm 'Delete a resource: lock/NAME, role/NAME, token/NAME, bot/NAME or bot_instance/BOT/UUID'
            cand create 'Create resources from a file in tctl''s format (YAML documents or JSON), or from stdin'
            cand edit 'Edit a resource in your editor: lock/NAME, role/NAME, token/NAME or bot/NAME'
            cand unlock 'Remove every lock that blocks a bot, or the locks named by ID, with a backup'
            cand locks 'List and add locks (remove them with `mwictl unlock`)'
            cand tokens 'List, add and remove bot join tokens'
            cand roles 'Inspect roles and fix them in one command: add or remove logins, add database access'
            cand bots 'Bots: list with their health, show, add, remove, update, recreate; their instances'
            cand recover 'Recover a bot: diagnose it, show the plan, fix it, update tbot.yaml and verify'
            cand triage 'Rank every bot by what needs attention, each reason with the command that fixes it'
            cand fleet 'Fleet monitoring: serve the triage as Prometheus metrics'
            cand demo 'Watch a bot break and recover, end to end, in a throwaway lab (a few seconds)'
            cand completions 'Print the shell completion script for SHELL to stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand start 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
            cand bot 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)'
            cand break 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it'
            cand db 'Register databases in the lab, as database agents or auto-discovery would'
            cand user 'Write an identity file for a normal user of the lab (created or updated with these roles)'
            cand keypair 'Bound keypairs for the lab agent, as `tbot keypair`'
            cand seed 'Fill the lab with a synthetic fleet: bots, live instances and locks'
            cand snapshot 'Save a consistent copy of the lab''s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)'
            cand restore 'Roll the lab''s database back to a snapshot, as restoring an auth backend from a backup does'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab;start'= {
            cand --data-dir 'Where the CA, the admin identity and the database live [default: $MWICTL_HOME/lab]'
            cand --listen 'Address to listen on; port 0 picks a free port'
            cand --cluster-name 'Cluster name, fixed on the first start [default: the stored name, else "lab"]'
            cand --lock-style 'What a bot''s certificate generation mismatch locks: the bot''s user (Teleport up to v18) or only the bot instance (newer Teleport)'
            cand --tsh-home 'Also log a lab admin user in as tsh would: write a tsh profile (v17+ layout) with a normal user''s certificate (role admin, 12h) into DIR and make it DIR''s current profile. Use it with `TELEPORT_HOME=DIR`; its proxy is --proxy-listen''s (without one, add --auth-server)'
            cand --bot-ttl 'Lifetime of the certificates bots get, e.g. 1h or 20m'
            cand --proxy-listen 'Also run a proxy with TLS routing here (HTTPS with a lab web certificate, whose CA is DATA_DIR/web-ca.crt): it answers /webapi/find and /webapi/ping and passes `teleport-auth@…` connections to the lab auth untouched. Reach it with --proxy'
            cand --proxy-public-addr 'The address the proxy advertises as its public address in /webapi/find (a name only some networks resolve, to reproduce split DNS) [default: the --proxy-listen address]'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --no-profile 'Leave the saved profile as it is (plain `mwictl` commands keep using the lab it names); reach this lab with --auth-server and -i'
            cand --proxy-l7 'Make the proxy behave like an L7 load balancer in front of Teleport (an AWS ALB, say): it ends TLS with the web certificate and negotiates only http/1.1, so clients reach auth with the connection upgrade (GET /webapi/connectionupgrade, a WebSocket)'
            cand --admin-mfa 'Refuse admin-level requests (writes and deletes) without MFA, as a cluster whose only second factor is WebAuthn does; exempt are bots, certificates bots issued and the lab''s admin, not normal users (`mwictl lab user`)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;bot'= {
            cand -c 'tbot.yaml (v2) to read; flags given here override it'
            cand --config 'tbot.yaml (v2) to read; flags given here override it'
            cand --data-dir 'Internal data directory (tbot''s storage): key, tlscert, key-cert.pub, tlscacerts, sshcacerts, tokenhash, lock'
            cand --token 'Join token (for bound_keypair, the token''s name), or an absolute path to a file holding it'
            cand --join-method 'Join method: token or bound_keypair [default: token]'
            cand --registration-secret 'bound_keypair: the token''s registration secret, for the first join without a preregistered key (else TBOT_REGISTRATION_SECRET)'
            cand --join-uri 'A joining URI as `tctl bots add` prints it, e.g. tbot+auth+bound-keypair://TOKEN:SECRET@HOST:PORT; it overrides the address, method, token and secret given otherwise'
            cand --renewal-interval 'How often to renew the bot identity (Go duration) [default: 20m]'
            cand --credential-ttl 'Lifetime to request for certificates (Go duration) [default: 1h]'
            cand --log-format 'Log format'
            cand --log-file 'Also append the log to this file'
            cand --ca-path 'CA certificate (PEM) that verifies the auth server on the first join'
            cand --ca-pin 'SHA-256 of the CA''s SubjectPublicKeyInfo (`sha256:HEX`, as `tctl status` prints), verifying the auth server on the first join; repeatable'
            cand --roles 'Roles to request for outputs that list none; without any, an output gets every role the bot may impersonate, as in tbot 19 (which removed per-output roles)'
            cand --destination-dir 'Add an identity output to this directory'
            cand --ssh-login 'Lab only: after writing each identity output, check that its certificate allows this SSH login, logging the refusal as `ssh` would (`mwictl lab break ssh-login`)'
            cand --retry-base 'First wait between failed renewal attempts (doubles each time)'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --oneshot 'Join or renew once, write the outputs, and exit'
            cand --no-data-dir-lock 'Do not lock the data directory, so that two agents can share it (reproduces a generation mismatch)'
            cand --insecure 'Do not verify the auth server on the first join (lab use only)'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;break'= {
            cand --bot 'The bot to break (created if missing)'
            cand --dir 'Working directory for tbot.yaml, tbot.log, data/ and out/ [default: $MWICTL_HOME/lab-bots/NAME]. It must be new, empty, or one lab break used before'
            cand --login 'ssh-login: the SSH login the bot''s identity output asks for (its role allows only alice)'
            cand --db 'db-access: the database registered in the lab that the bot''s output asks for'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --delete 'bk-token-wiped: delete the bot''s token instead of re-applying it without its status'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;db'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Register a database in the lab (or replace the labels of one registered before)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab;db;add'= {
            cand --label 'A label of the database, KEY=VALUE (repeatable or comma-separated)'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;db;help'= {
            cand add 'Register a database in the lab (or replace the labels of one registered before)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab;db;help;add'= {
        }
        &'mwictl;lab;db;help;help'= {
        }
        &'mwictl;lab;user'= {
            cand --roles 'Roles of the user (repeatable or comma-separated)'
            cand -o 'Where to write the identity file (mode 0600, replaced atomically)'
            cand --out 'Where to write the identity file (mode 0600, replaced atomically)'
            cand --ttl 'How long the identity is valid, e.g. 12h or 30s'
            cand --data-dir 'The lab''s data dir [default: the saved profile''s lab, else $MWICTL_HOME/lab]'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;keypair'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab;keypair;create'= {
            cand --storage 'The agent''s storage directory (its --data-dir / storage.path)'
            cand --static-key-path 'With --static: also write the private key to this file (mode 0600)'
            cand --proxy-server 'Ask this proxy''s /webapi/find for the cluster''s signature algorithm suite, which decides the key type, as tbot does (its web certificate is checked against the saved lab''s web CA)'
            cand --suite 'The suite, without asking a proxy: Ed25519 keys, ECDSA P-256 for fips-v1 [default: legacy, the lab''s]'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --overwrite 'Replace an existing key instead of printing it'
            cand --static 'Make a static key, printed (base64 PEM) for TBOT_BOUND_KEYPAIR_STATIC_KEY'
            cand --insecure 'With --proxy-server: do not verify the proxy''s web certificate (lab only)'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;keypair;help'= {
            cand create 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab;keypair;help;create'= {
        }
        &'mwictl;lab;keypair;help;help'= {
        }
        &'mwictl;lab;seed'= {
            cand --bots 'How many bots to add'
            cand --instances 'How many bot instances to add (spread over the bots; needs --bots)'
            cand --locks 'How many locks to add'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;snapshot'= {
            cand --out 'The file to write (it must not exist) [default: DATA_DIR/snapshots/lab-TIME.db]'
            cand --data-dir 'The lab''s data dir [default: the saved lab profile''s, else $MWICTL_HOME/lab]'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;restore'= {
            cand --data-dir 'The lab''s data dir [default: the saved lab profile''s, else $MWICTL_HOME/lab]'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;help'= {
            cand start 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
            cand bot 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)'
            cand break 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it'
            cand db 'Register databases in the lab, as database agents or auto-discovery would'
            cand user 'Write an identity file for a normal user of the lab (created or updated with these roles)'
            cand keypair 'Bound keypairs for the lab agent, as `tbot keypair`'
            cand seed 'Fill the lab with a synthetic fleet: bots, live instances and locks'
            cand snapshot 'Save a consistent copy of the lab''s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)'
            cand restore 'Roll the lab''s database back to a snapshot, as restoring an auth backend from a backup does'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab;help;start'= {
        }
        &'mwictl;lab;help;bot'= {
        }
        &'mwictl;lab;help;break'= {
        }
        &'mwictl;lab;help;db'= {
            cand add 'Register a database in the lab (or replace the labels of one registered before)'
        }
        &'mwictl;lab;help;db;add'= {
        }
        &'mwictl;lab;help;user'= {
        }
        &'mwictl;lab;help;keypair'= {
            cand create 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`'
        }
        &'mwictl;lab;help;keypair;create'= {
        }
        &'mwictl;lab;help;seed'= {
        }
        &'mwictl;lab;help;snapshot'= {
        }
        &'mwictl;lab;help;restore'= {
        }
        &'mwictl;lab;help;help'= {
        }
        &'mwictl;ping'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;doctor'= {
            cand --bot 'The bot the logs belong to: named in the fix commands and checked by --live when the lines do not name it (a finding whose lines name another bot says so)'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --live 'Also ask the auth service whether each incident is still current (the lock still in force, the role still lacking the rule; for `database "x" not found`, whether x is registered, was renamed by auto-discovery, or is not registered at all; for the bound-keypair incidents S8–S12, each token''s recovery mode, count and limit, bound key and instance, and the locks on its bot)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lint'= {
            cand --env 'A variable of tbot''s environment, e.g. TBOT_USE_PROXY_ADDR=yes; repeatable. Set after --unit''s, so it overrides them'
            cand --unit 'The systemd unit tbot runs from: its `Environment=` lines and the `EnvironmentFile=` files it names (`-` before a path: may be missing) are tbot''s environment'
            cand --teleport-version 'The Teleport release tbot runs (e.g. 17.4.2); judges the configs against it. `17` or `17.4` stand for the newest release of that line'
            cand --tbot 'A tbot binary: its `tbot version` is the release to judge against (without this, a `tbot` on PATH is used when there is one)'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --fix 'Apply the safe fixes in place (only the needed bytes change; comments and formatting are kept), atomically, with a PATH.bak backup; prints the diff'
            cand --on-host 'Lint runs on the bot''s host: check paths and file systems here, and ask `auth_server` whether a Teleport proxy answers (`https://ADDRESS/webapi/find`, 3 s timeouts, the certificate not verified). Without it those checks are notes, not checked here'
            cand --live 'Ask the cluster (connects like every command: --auth-server/--identity or the profile): judge against its release (a Ping), and judge a bound-keypair static key against its token (recovery mode insecure, no `rotate_after`)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;get'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;rm'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --force 'With role/NAME: delete it even when bots use it (they lose what it granted)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;create'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand -f 'Overwrite resources that already exist'
            cand --force 'Overwrite resources that already exist'
            cand --restore-status 'Write the `status` of join tokens from the file (restoring a backup: the bound key, bot instance and recovery count) instead of keeping the server''s. With -f an existing token is deleted and created again, the one way Teleport writes a given status'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;edit'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --force 'Overwrite even when the resource changed on the server since the edit began'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;unlock'= {
            cand --bot 'Remove the locks that block this bot'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --scan-all 'With --bot: download every lock and also match locks on expired instance records by their message (slower with many locks)'
            cand --dry-run 'Show the locks that would be removed, and remove nothing'
            cand --plan 'With --bot or --resume: print the plan (text, or JSON with --format json) and change nothing'
            cand --resume 'Continue the last interrupted or failed `unlock --bot` run (of any bot)'
            cand --new-run 'With --bot: start a new run even if an unfinished one exists for the bot (that one is marked abandoned; its backup stays)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;locks'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ls 'List locks: ID, target, message, created, expires (`never` when a lock does not end)'
            cand add 'Add a lock: every API call matching its target is refused while it is in force'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;locks;ls'= {
            cand --bot 'Only the locks that target this bot'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --in-force 'Only the locks in force now (not those whose end has passed)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;locks;add'= {
            cand --user 'Lock this user (a bot''s user is `bot-NAME`)'
            cand --role 'Lock everyone holding this role'
            cand --login 'Lock this login (OS user) on SSH servers'
            cand --bot-instance-id 'Lock one bot instance by its UUID'
            cand --join-token 'Lock the bots joined with this token'
            cand --message 'Why: shown to whoever the lock refuses'
            cand --ttl 'End the lock after this long, e.g. 30m or 12h'
            cand --expires 'End the lock at this time (RFC 3339, e.g. 2026-01-02T15:04:05Z)'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;locks;help'= {
            cand ls 'List locks: ID, target, message, created, expires (`never` when a lock does not end)'
            cand add 'Add a lock: every API call matching its target is refused while it is in force'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;locks;help;ls'= {
        }
        &'mwictl;locks;help;add'= {
        }
        &'mwictl;locks;help;help'= {
        }
        &'mwictl;tokens'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ls 'List join tokens: token, type (roles), join method, bot, expiry'
            cand add 'Issue a join token for a bot (a new bot instance joins with it)'
            cand rm 'Delete a join token, so nothing can join with it any more'
            cand show 'Show a join token. For a bound_keypair token: the bound key''s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending'
            cand rotate 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)'
            cand mode 'Set a bound_keypair token''s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot''s key can recover it)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;tokens;ls'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --show-secrets 'Show the tokens'' full names'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;tokens;add'= {
            cand --bot 'The bot the token joins as'
            cand --ttl 'How long the token (bound_keypair: its registration secret) stays valid, e.g. 30m or 2h'
            cand --join-method 'The join method of the token'
            cand --initial-public-key 'bound_keypair: the bot''s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made'
            cand --recovery-mode 'bound_keypair: standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)'
            cand --recovery-limit 'bound_keypair: how many recoveries mode standard allows; onboarding is the first'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;tokens;rm'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;tokens;show'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;tokens;rotate'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;tokens;mode'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;tokens;help'= {
            cand ls 'List join tokens: token, type (roles), join method, bot, expiry'
            cand add 'Issue a join token for a bot (a new bot instance joins with it)'
            cand rm 'Delete a join token, so nothing can join with it any more'
            cand show 'Show a join token. For a bound_keypair token: the bound key''s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending'
            cand rotate 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)'
            cand mode 'Set a bound_keypair token''s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot''s key can recover it)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;tokens;help;ls'= {
        }
        &'mwictl;tokens;help;add'= {
        }
        &'mwictl;tokens;help;rm'= {
        }
        &'mwictl;tokens;help;show'= {
        }
        &'mwictl;tokens;help;rotate'= {
        }
        &'mwictl;tokens;help;mode'= {
        }
        &'mwictl;tokens;help;help'= {
        }
        &'mwictl;roles'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ls 'List roles: name, allowed logins, node labels and access to resources (rules)'
            cand list 'List roles: name, allowed logins, node labels and access to resources (rules)'
            cand show 'Show one role as YAML (the default, also for --format text) or JSON'
            cand add-db-access 'Give a role database access: the rule and the db_labels, db_names and db_users grants'
            cand add-login 'Add SSH logins (principals) to a role''s allow.logins'
            cand remove-login 'Remove SSH logins from a role''s allow.logins'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;roles;ls'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;roles;list'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;roles;show'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;roles;add-db-access'= {
            cand --db-labels 'Database labels to match, KEY=VALUE; repeat the flag or separate with commas. `''*=*''` matches every database'
            cand --db-names 'Database names (inside the database server) to allow; `*` for any'
            cand --db-users 'Database users to allow; `*` for any'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --dry-run 'Show the diff only; write nothing (exit 0)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;roles;add-login'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --dry-run 'Show the diff only; write nothing (exit 0)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;roles;remove-login'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --dry-run 'Show the diff only; write nothing (exit 0)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;roles;help'= {
            cand ls 'List roles: name, allowed logins, node labels and access to resources (rules)'
            cand show 'Show one role as YAML (the default, also for --format text) or JSON'
            cand add-db-access 'Give a role database access: the rule and the db_labels, db_names and db_users grants'
            cand add-login 'Add SSH logins (principals) to a role''s allow.logins'
            cand remove-login 'Remove SSH logins from a role''s allow.logins'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;roles;help;ls'= {
        }
        &'mwictl;roles;help;show'= {
        }
        &'mwictl;roles;help;add-db-access'= {
        }
        &'mwictl;roles;help;add-login'= {
        }
        &'mwictl;roles;help;remove-login'= {
        }
        &'mwictl;roles;help;help'= {
        }
        &'mwictl;bots'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ls 'List bots with their lock state, live instances and join tokens'
            cand show 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens'
            cand add 'Create a bot and its join token, like `tctl bots add`'
            cand rm 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks'
            cand update 'Change a bot''s roles, logins or max session TTL'
            cand recreate 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token'
            cand can 'Check whether the bot may log in as LOGIN or read database DB, from its roles'
            cand instances 'List, show and add bot instances (each tbot that joined is one)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;bots;ls'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;show'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;add'= {
            cand --roles 'Roles the bot''s outputs may use (it impersonates them), comma-separated'
            cand --logins 'SSH logins, kept in the bot''s `logins` trait, comma-separated'
            cand --max-session-ttl 'The longest certificate the bot may get, like 12h (the server''s default is 12h)'
            cand --token-ttl 'How long the join token (bound-keypair: its registration secret) stays valid'
            cand --initial-public-key 'The bot''s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made'
            cand --recovery-mode 'standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)'
            cand --recovery-limit 'How many recoveries mode standard allows; onboarding is the first [default: 1]'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --legacy 'Issue a one-time `token` join (what tctl did before Teleport 19) instead of a bound-keypair token'
            cand --keep-locks 'Keep locks that already target the name; the bot stays blocked until `mwictl unlock --bot NAME`'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;rm'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --keep-locks 'Keep the bot''s locks; a bot created again with this name stays blocked until `mwictl unlock --bot NAME`'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;update'= {
            cand --add-roles 'Roles to add, comma-separated'
            cand --remove-roles 'Roles to remove, comma-separated'
            cand --set-roles 'Replace the roles with these, comma-separated'
            cand --add-logins 'Logins to add to the `logins` trait, comma-separated'
            cand --remove-logins 'Logins to remove, comma-separated'
            cand --set-logins 'Replace the logins with these, comma-separated'
            cand --set-max-session-ttl 'The longest certificate the bot may get, like 12h'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;recreate'= {
            cand --roles 'Create it with these roles instead of its current ones, comma-separated'
            cand --add-roles 'Roles to add to its current ones, comma-separated'
            cand --remove-roles 'Roles to drop from its current ones, comma-separated'
            cand --logins 'Create it with these logins instead of its current ones, comma-separated'
            cand --add-logins 'Logins to add to its current ones, comma-separated'
            cand --max-session-ttl 'Create it with this max session TTL, like 12h'
            cand --token-ttl 'How long the join token stays valid'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --resume 'Continue the last interrupted or failed `bots recreate` run (of any bot)'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;can'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ssh 'May the bot''s outputs log in over SSH as LOGIN (be issued it as a principal)?'
            cand db 'May the bot''s outputs read database DB (get a database certificate for it)?'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;bots;can;ssh'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;can;db'= {
            cand --db-user 'The database user to connect as (tbot''s `username`), checked against db_users'
            cand --db-name 'The database name inside the server (tbot''s `database`), checked against db_names'
            cand --db-labels 'The database resource''s labels, KEY=VALUE (repeat or separate with commas), as `tsh db ls` shows them; without them label matching is not checked'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;can;help'= {
            cand ssh 'May the bot''s outputs log in over SSH as LOGIN (be issued it as a principal)?'
            cand db 'May the bot''s outputs read database DB (get a database certificate for it)?'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;bots;can;help;ssh'= {
        }
        &'mwictl;bots;can;help;db'= {
        }
        &'mwictl;bots;can;help;help'= {
        }
        &'mwictl;bots;instances'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ls 'List bot instances: ID, join method, version, hostname, status, last seen, locked'
            cand show 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state'
            cand add 'Issue a join token for a new instance of a bot'
            cand join 'Issue a join token for a new instance of a bot'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;bots;instances;ls'= {
            cand --search 'Only instances whose bot name, ID, hostname, version or join method contains this'
            cand --query 'Only instances matching this predicate, e.g. ''older_than(version, "18.1.0")'''
            cand --sort-index 'Sort by bot_name, active_at_latest (last seen), version_latest or host_name_latest'
            cand --sort-order 'Sort order'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;instances;show'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;instances;add'= {
            cand --ttl 'How long the token (bound-keypair: its registration secret) stays valid'
            cand --initial-public-key 'The bot''s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made'
            cand --recovery-mode 'standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)'
            cand --recovery-limit 'How many recoveries mode standard allows; onboarding is the first [default: 1]'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --legacy 'Issue a one-time `token` join (what tctl did before Teleport 19) instead of a bound-keypair token'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;instances;join'= {
            cand --ttl 'How long the token (bound-keypair: its registration secret) stays valid'
            cand --initial-public-key 'The bot''s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made'
            cand --recovery-mode 'standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)'
            cand --recovery-limit 'How many recoveries mode standard allows; onboarding is the first [default: 1]'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --legacy 'Issue a one-time `token` join (what tctl did before Teleport 19) instead of a bound-keypair token'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;bots;instances;help'= {
            cand ls 'List bot instances: ID, join method, version, hostname, status, last seen, locked'
            cand show 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state'
            cand add 'Issue a join token for a new instance of a bot'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;bots;instances;help;ls'= {
        }
        &'mwictl;bots;instances;help;show'= {
        }
        &'mwictl;bots;instances;help;add'= {
        }
        &'mwictl;bots;instances;help;help'= {
        }
        &'mwictl;bots;help'= {
            cand ls 'List bots with their lock state, live instances and join tokens'
            cand show 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens'
            cand add 'Create a bot and its join token, like `tctl bots add`'
            cand rm 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks'
            cand update 'Change a bot''s roles, logins or max session TTL'
            cand recreate 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token'
            cand can 'Check whether the bot may log in as LOGIN or read database DB, from its roles'
            cand instances 'List, show and add bot instances (each tbot that joined is one)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;bots;help;ls'= {
        }
        &'mwictl;bots;help;show'= {
        }
        &'mwictl;bots;help;add'= {
        }
        &'mwictl;bots;help;rm'= {
        }
        &'mwictl;bots;help;update'= {
        }
        &'mwictl;bots;help;recreate'= {
        }
        &'mwictl;bots;help;can'= {
            cand ssh 'May the bot''s outputs log in over SSH as LOGIN (be issued it as a principal)?'
            cand db 'May the bot''s outputs read database DB (get a database certificate for it)?'
        }
        &'mwictl;bots;help;can;ssh'= {
        }
        &'mwictl;bots;help;can;db'= {
        }
        &'mwictl;bots;help;instances'= {
            cand ls 'List bot instances: ID, join method, version, hostname, status, last seen, locked'
            cand show 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state'
            cand add 'Issue a join token for a new instance of a bot'
        }
        &'mwictl;bots;help;instances;ls'= {
        }
        &'mwictl;bots;help;instances;show'= {
        }
        &'mwictl;bots;help;instances;add'= {
        }
        &'mwictl;bots;help;help'= {
        }
        &'mwictl;recover'= {
            cand --run 'With --resume: continue this run (its id, as reports and journal file names give it) instead of the newest'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --resume 'Continue the last interrupted or failed recovery run (of any bot and flow)'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand generation-mismatch 'Recover a bot locked after a certificate generation mismatch (S1)'
            cand expired 'Recover a bot whose identity expired (S2)'
            cand ssh-login 'Let a bot log in over SSH as LOGIN (S3)'
            cand db-access 'Let a bot reach database DB (S4)'
            cand bk-exhausted 'Recover a bound-keypair bot whose recovery limit is used up (S8)'
            cand bk-join-state 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)'
            cand bk-token-wiped 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)'
            cand bk-keypair-lost 'Recover a bound-keypair bot that lost its private key (S11)'
            cand bk-rollback 'Let every bound-keypair bot rejoin after an auth backend restore (S12)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;recover;generation-mismatch'= {
            cand --bot 'The bot to recover'
            cand --bots 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)'
            cand --parallel 'How many bots a bulk run recovers at once'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --all-locked 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot''s name'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;expired'= {
            cand --bot 'The bot to recover'
            cand --bots 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)'
            cand --parallel 'How many bots a bulk run recovers at once'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --all-locked 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot''s name'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;ssh-login'= {
            cand --bot 'The bot to fix'
            cand --login 'The SSH login (Unix user) the bot must be allowed'
            cand --role 'Add the login to this role (one the bot impersonates)'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --trait 'Add the login to the bot''s `logins` trait instead of a role'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;db-access'= {
            cand --bot 'The bot to fix'
            cand --db 'The Teleport database resource name (tbot''s database output `service`)'
            cand --db-user 'The database user tbot connects as (its `username`), added to db_users'
            cand --db-name 'The database name inside it (tbot''s `database`), added to db_names'
            cand --db-labels 'Labels to add to the role''s db_labels, KEY=VALUE (repeatable or comma-separated); needed when no role of the bot has db_labels. `tsh db ls` shows the database''s labels'
            cand --role 'Add the access to this role (one the bot impersonates) [default: the role the access check names, else the bot''s first role]'
            cand --recreate 'Instead of editing a role, recreate the bot with ROLE (an existing role that grants the database) added to its roles, keeping everything else; a new join token is issued'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;bk-exhausted'= {
            cand --bot 'The bot to recover'
            cand --bots 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)'
            cand --parallel 'How many bots a bulk run recovers at once'
            cand --token 'The bound-keypair token tbot joins with, when the bot has several'
            cand --spare 'Recoveries above recovery_count the new limit allows (1: this recovery only)'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --all-locked 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot''s name'
            cand --relaxed 'Set recovery mode relaxed instead of raising the limit (it stays relaxed)'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;bk-join-state'= {
            cand --bot 'The bot to recover'
            cand --token 'The bound-keypair token tbot joins with, when the bot has several'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;bk-token-wiped'= {
            cand --bot 'The bot to recover'
            cand --token 'The token to recreate (default: the bot''s only bound-keypair token, or the one tbot.yaml''s onboarding.token names); needed when it was deleted and no --tbot-config is given'
            cand --storage 'tbot''s storage directory (storage.path in tbot.yaml): the bot''s public key is its id_bkp.pub, its join state names the bot instance and recovery count to restore'
            cand --public-key 'The bot''s public key in authorized_keys form (the content of id_bkp.pub), or @FILE'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;bk-keypair-lost'= {
            cand --bot 'The bot to recover'
            cand --token 'The bot''s bound-keypair token, when it has several (default: its only one, or the one tbot.yaml''s onboarding.token names)'
            cand --storage 'tbot''s storage directory (storage.path in tbot.yaml): its stale key files are moved into the run''s backups, never deleted'
            cand --public-key 'Preregister this new public key (`tbot keypair create` prints it; or @FILE) instead of a registration secret'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;bk-rollback'= {
            cand --bots 'Only these bots (comma-separated); every bot with a bound-keypair token when omitted'
            cand --tbot-config 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name'
            cand --restart-cmd 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name'
            cand --wait 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check'
            cand --token-ttl 'Lifetime of the new one-time join token'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --plan 'Print the plan (text, or JSON with --format json) and change nothing'
            cand --new-run 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;recover;help'= {
            cand generation-mismatch 'Recover a bot locked after a certificate generation mismatch (S1)'
            cand expired 'Recover a bot whose identity expired (S2)'
            cand ssh-login 'Let a bot log in over SSH as LOGIN (S3)'
            cand db-access 'Let a bot reach database DB (S4)'
            cand bk-exhausted 'Recover a bound-keypair bot whose recovery limit is used up (S8)'
            cand bk-join-state 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)'
            cand bk-token-wiped 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)'
            cand bk-keypair-lost 'Recover a bound-keypair bot that lost its private key (S11)'
            cand bk-rollback 'Let every bound-keypair bot rejoin after an auth backend restore (S12)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;recover;help;generation-mismatch'= {
        }
        &'mwictl;recover;help;expired'= {
        }
        &'mwictl;recover;help;ssh-login'= {
        }
        &'mwictl;recover;help;db-access'= {
        }
        &'mwictl;recover;help;bk-exhausted'= {
        }
        &'mwictl;recover;help;bk-join-state'= {
        }
        &'mwictl;recover;help;bk-token-wiped'= {
        }
        &'mwictl;recover;help;bk-keypair-lost'= {
        }
        &'mwictl;recover;help;bk-rollback'= {
        }
        &'mwictl;recover;help;help'= {
        }
        &'mwictl;triage'= {
            cand --renewal-interval 'tbot''s renewal interval: an identity that expires sooner has missed its renewals'
            cand --stale-after 'A live instance whose newest heartbeat is older than this is stale'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;fleet'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Serve the fleet''s triage as Prometheus metrics at http://ADDR/metrics'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;fleet;serve'= {
            cand --listen 'The address to listen on, like 127.0.0.1:9464 (port 0: any free port, printed)'
            cand --interval 'How often to refresh the triage'
            cand --renewal-interval 'tbot''s renewal interval: an identity that expires sooner has missed its renewals'
            cand --stale-after 'A live instance whose newest heartbeat is older than this is stale'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;fleet;help'= {
            cand serve 'Serve the fleet''s triage as Prometheus metrics at http://ADDR/metrics'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;fleet;help;serve'= {
        }
        &'mwictl;fleet;help;help'= {
        }
        &'mwictl;demo'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --keep 'Keep the temp dir (lab data, the bot''s tbot.yaml and log, the recovery journal and backups) to look at afterwards'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;completions'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --insecure 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;help'= {
            cand lab 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests'
            cand ping 'Check the connection to the auth service: cluster name, server version, and which address and credentials were used (from flags, the saved profile or a tsh profile)'
            cand doctor 'Diagnose tbot from its logs: name the incident (S1–S7 or another), show the evidence lines, explain the cause and print the exact fix (the mwictl command and the tctl equivalent)'
            cand lint 'Check tbot.yaml files: schema (unknown keys with "did you mean", wrong types, v1 and deprecated `outputs:`), and the rules behind the troubleshooting guide''s incidents (kubernetes_secret without disable_exec_plugin, auth_server with ssh_config on, split-DNS proxies, shared or network-mounted storage, TTLs, token paths, duplicate destinations)'
            cand get 'Print resources: every one of a kind, or one by name'
            cand rm 'Delete a resource: lock/NAME, role/NAME, token/NAME, bot/NAME or bot_instance/BOT/UUID'
            cand create 'Create resources from a file in tctl''s format (YAML documents or JSON), or from stdin'
            cand edit 'Edit a resource in your editor: lock/NAME, role/NAME, token/NAME or bot/NAME'
            cand unlock 'Remove every lock that blocks a bot, or the locks named by ID, with a backup'
            cand locks 'List and add locks (remove them with `mwictl unlock`)'
            cand tokens 'List, add and remove bot join tokens'
            cand roles 'Inspect roles and fix them in one command: add or remove logins, add database access'
            cand bots 'Bots: list with their health, show, add, remove, update, recreate; their instances'
            cand recover 'Recover a bot: diagnose it, show the plan, fix it, update tbot.yaml and verify'
            cand triage 'Rank every bot by what needs attention, each reason with the command that fixes it'
            cand fleet 'Fleet monitoring: serve the triage as Prometheus metrics'
            cand demo 'Watch a bot break and recover, end to end, in a throwaway lab (a few seconds)'
            cand completions 'Print the shell completion script for SHELL to stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;help;lab'= {
            cand start 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
            cand bot 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)'
            cand break 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it'
            cand db 'Register databases in the lab, as database agents or auto-discovery would'
            cand user 'Write an identity file for a normal user of the lab (created or updated with these roles)'
            cand keypair 'Bound keypairs for the lab agent, as `tbot keypair`'
            cand seed 'Fill the lab with a synthetic fleet: bots, live instances and locks'
            cand snapshot 'Save a consistent copy of the lab''s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)'
            cand restore 'Roll the lab''s database back to a snapshot, as restoring an auth backend from a backup does'
        }
        &'mwictl;help;lab;start'= {
        }
        &'mwictl;help;lab;bot'= {
        }
        &'mwictl;help;lab;break'= {
        }
        &'mwictl;help;lab;db'= {
            cand add 'Register a database in the lab (or replace the labels of one registered before)'
        }
        &'mwictl;help;lab;db;add'= {
        }
        &'mwictl;help;lab;user'= {
        }
        &'mwictl;help;lab;keypair'= {
            cand create 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`'
        }
        &'mwictl;help;lab;keypair;create'= {
        }
        &'mwictl;help;lab;seed'= {
        }
        &'mwictl;help;lab;snapshot'= {
        }
        &'mwictl;help;lab;restore'= {
        }
        &'mwictl;help;ping'= {
        }
        &'mwictl;help;doctor'= {
        }
        &'mwictl;help;lint'= {
        }
        &'mwictl;help;get'= {
        }
        &'mwictl;help;rm'= {
        }
        &'mwictl;help;create'= {
        }
        &'mwictl;help;edit'= {
        }
        &'mwictl;help;unlock'= {
        }
        &'mwictl;help;locks'= {
            cand ls 'List locks: ID, target, message, created, expires (`never` when a lock does not end)'
            cand add 'Add a lock: every API call matching its target is refused while it is in force'
        }
        &'mwictl;help;locks;ls'= {
        }
        &'mwictl;help;locks;add'= {
        }
        &'mwictl;help;tokens'= {
            cand ls 'List join tokens: token, type (roles), join method, bot, expiry'
            cand add 'Issue a join token for a bot (a new bot instance joins with it)'
            cand rm 'Delete a join token, so nothing can join with it any more'
            cand show 'Show a join token. For a bound_keypair token: the bound key''s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending'
            cand rotate 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)'
            cand mode 'Set a bound_keypair token''s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot''s key can recover it)'
        }
        &'mwictl;help;tokens;ls'= {
        }
        &'mwictl;help;tokens;add'= {
        }
        &'mwictl;help;tokens;rm'= {
        }
        &'mwictl;help;tokens;show'= {
        }
        &'mwictl;help;tokens;rotate'= {
        }
        &'mwictl;help;tokens;mode'= {
        }
        &'mwictl;help;roles'= {
            cand ls 'List roles: name, allowed logins, node labels and access to resources (rules)'
            cand show 'Show one role as YAML (the default, also for --format text) or JSON'
            cand add-db-access 'Give a role database access: the rule and the db_labels, db_names and db_users grants'
            cand add-login 'Add SSH logins (principals) to a role''s allow.logins'
            cand remove-login 'Remove SSH logins from a role''s allow.logins'
        }
        &'mwictl;help;roles;ls'= {
        }
        &'mwictl;help;roles;show'= {
        }
        &'mwictl;help;roles;add-db-access'= {
        }
        &'mwictl;help;roles;add-login'= {
        }
        &'mwictl;help;roles;remove-login'= {
        }
        &'mwictl;help;bots'= {
            cand ls 'List bots with their lock state, live instances and join tokens'
            cand show 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens'
            cand add 'Create a bot and its join token, like `tctl bots add`'
            cand rm 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks'
            cand update 'Change a bot''s roles, logins or max session TTL'
            cand recreate 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token'
            cand can 'Check whether the bot may log in as LOGIN or read database DB, from its roles'
            cand instances 'List, show and add bot instances (each tbot that joined is one)'
        }
        &'mwictl;help;bots;ls'= {
        }
        &'mwictl;help;bots;show'= {
        }
        &'mwictl;help;bots;add'= {
        }
        &'mwictl;help;bots;rm'= {
        }
        &'mwictl;help;bots;update'= {
        }
        &'mwictl;help;bots;recreate'= {
        }
        &'mwictl;help;bots;can'= {
            cand ssh 'May the bot''s outputs log in over SSH as LOGIN (be issued it as a principal)?'
            cand db 'May the bot''s outputs read database DB (get a database certificate for it)?'
        }
        &'mwictl;help;bots;can;ssh'= {
        }
        &'mwictl;help;bots;can;db'= {
        }
        &'mwictl;help;bots;instances'= {
            cand ls 'List bot instances: ID, join method, version, hostname, status, last seen, locked'
            cand show 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state'
            cand add 'Issue a join token for a new instance of a bot'
        }
        &'mwictl;help;bots;instances;ls'= {
        }
        &'mwictl;help;bots;instances;show'= {
        }
        &'mwictl;help;bots;instances;add'= {
        }
        &'mwictl;help;recover'= {
            cand generation-mismatch 'Recover a bot locked after a certificate generation mismatch (S1)'
            cand expired 'Recover a bot whose identity expired (S2)'
            cand ssh-login 'Let a bot log in over SSH as LOGIN (S3)'
            cand db-access 'Let a bot reach database DB (S4)'
            cand bk-exhausted 'Recover a bound-keypair bot whose recovery limit is used up (S8)'
            cand bk-join-state 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)'
            cand bk-token-wiped 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)'
            cand bk-keypair-lost 'Recover a bound-keypair bot that lost its private key (S11)'
            cand bk-rollback 'Let every bound-keypair bot rejoin after an auth backend restore (S12)'
        }
        &'mwictl;help;recover;generation-mismatch'= {
        }
        &'mwictl;help;recover;expired'= {
        }
        &'mwictl;help;recover;ssh-login'= {
        }
        &'mwictl;help;recover;db-access'= {
        }
        &'mwictl;help;recover;bk-exhausted'= {
        }
        &'mwictl;help;recover;bk-join-state'= {
        }
        &'mwictl;help;recover;bk-token-wiped'= {
        }
        &'mwictl;help;recover;bk-keypair-lost'= {
        }
        &'mwictl;help;recover;bk-rollback'= {
        }
        &'mwictl;help;triage'= {
        }
        &'mwictl;help;fleet'= {
            cand serve 'Serve the fleet''s triage as Prometheus metrics at http://ADDR/metrics'
        }
        &'mwictl;help;fleet;serve'= {
        }
        &'mwictl;help;demo'= {
        }
        &'mwictl;help;completions'= {
        }
        &'mwictl;help;help'= {
        }
    ]
    $completions[$command]
}
