
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mwictl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mwictl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mwictl' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'teleport.yaml of the auth host this runs on: with its auth service enabled, use the local Admin identity from its data dir, as tctl does [default: /etc/teleport.yaml if it exists]. Give it before the subcommand')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'teleport.yaml of the auth host this runs on: with its auth service enabled, use the local Admin identity from its data dir, as tctl does [default: /etc/teleport.yaml if it exists]. Give it before the subcommand')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('lab', 'lab', [CompletionResultType]::ParameterValue, 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests')
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'Check the connection to the auth service: cluster name, server version, and which address and credentials were used (from flags, the saved profile or a tsh profile)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Diagnose tbot from its logs: name the incident (S1–S7 or another), show the evidence lines, explain the cause and print the exact fix (the mwictl command and the tctl equivalent)')
            [CompletionResult]::new('lint', 'lint', [CompletionResultType]::ParameterValue, 'Check tbot.yaml files: schema (unknown keys with "did you mean", wrong types, v1 and deprecated `outputs:`), and the rules behind the troubleshooting guide''s incidents (kubernetes_secret without disable_exec_plugin, auth_server with ssh_config on, split-DNS proxies, shared or network-mounted storage, TTLs, token paths, duplicate destinations)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print resources: every one of a kind, or one by name')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a resource: lock/NAME, role/NAME, token/NAME, bot/NAME or bot_instance/BOT/UUID')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create resources from a file in tctl''s format (YAML documents or JSON), or from stdin')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Edit a resource in your editor: lock/NAME, role/NAME, token/NAME or bot/NAME')
            [CompletionResult]::new('unlock', 'unlock', [CompletionResultType]::ParameterValue, 'Remove every lock that blocks a bot, or the locks named by ID, with a backup')
            [CompletionResult]::new('locks', 'locks', [CompletionResultType]::ParameterValue, 'List and add locks (remove them with `mwictl unlock`)')
            [CompletionResult]::new('tokens', 'tokens', [CompletionResultType]::ParameterValue, 'List, add and remove bot join tokens')
            [CompletionResult]::new('roles', 'roles', [CompletionResultType]::ParameterValue, 'Inspect roles and fix them in one command: add or remove logins, add database access')
            [CompletionResult]::new('bots', 'bots', [CompletionResultType]::ParameterValue, 'Bots: list with their health, show, add, remove, update, recreate; their instances')
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Recover a bot: diagnose it, show the plan, fix it, update tbot.yaml and verify')
            [CompletionResult]::new('triage', 'triage', [CompletionResultType]::ParameterValue, 'Rank every bot by what needs attention, each reason with the command that fixes it')
            [CompletionResult]::new('fleet', 'fleet', [CompletionResultType]::ParameterValue, 'Fleet monitoring: serve the triage as Prometheus metrics')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Watch a bot break and recover, end to end, in a throwaway lab (a few seconds)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the shell completion script for SHELL to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests')
            [CompletionResult]::new('bot', 'bot', [CompletionResultType]::ParameterValue, 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)')
            [CompletionResult]::new('break', 'break', [CompletionResultType]::ParameterValue, 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'Register databases in the lab, as database agents or auto-discovery would')
            [CompletionResult]::new('user', 'user', [CompletionResultType]::ParameterValue, 'Write an identity file for a normal user of the lab (created or updated with these roles)')
            [CompletionResult]::new('keypair', 'keypair', [CompletionResultType]::ParameterValue, 'Bound keypairs for the lab agent, as `tbot keypair`')
            [CompletionResult]::new('seed', 'seed', [CompletionResultType]::ParameterValue, 'Fill the lab with a synthetic fleet: bots, live instances and locks')
            [CompletionResult]::new('snapshot', 'snapshot', [CompletionResultType]::ParameterValue, 'Save a consistent copy of the lab''s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Roll the lab''s database back to a snapshot, as restoring an auth backend from a backup does')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab;start' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Where the CA, the admin identity and the database live [default: $MWICTL_HOME/lab]')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on; port 0 picks a free port')
            [CompletionResult]::new('--cluster-name', '--cluster-name', [CompletionResultType]::ParameterName, 'Cluster name, fixed on the first start [default: the stored name, else "lab"]')
            [CompletionResult]::new('--lock-style', '--lock-style', [CompletionResultType]::ParameterName, 'What a bot''s certificate generation mismatch locks: the bot''s user (Teleport up to v18) or only the bot instance (newer Teleport)')
            [CompletionResult]::new('--tsh-home', '--tsh-home', [CompletionResultType]::ParameterName, 'Also log a lab admin user in as tsh would: write a tsh profile (v17+ layout) with a normal user''s certificate (role admin, 12h) into DIR and make it DIR''s current profile. Use it with `TELEPORT_HOME=DIR`; its proxy is --proxy-listen''s (without one, add --auth-server)')
            [CompletionResult]::new('--bot-ttl', '--bot-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the certificates bots get, e.g. 1h or 20m')
            [CompletionResult]::new('--proxy-listen', '--proxy-listen', [CompletionResultType]::ParameterName, 'Also run a proxy with TLS routing here (HTTPS with a lab web certificate, whose CA is DATA_DIR/web-ca.crt): it answers /webapi/find and /webapi/ping and passes `teleport-auth@…` connections to the lab auth untouched. Reach it with --proxy')
            [CompletionResult]::new('--proxy-public-addr', '--proxy-public-addr', [CompletionResultType]::ParameterName, 'The address the proxy advertises as its public address in /webapi/find (a name only some networks resolve, to reproduce split DNS) [default: the --proxy-listen address]')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--no-profile', '--no-profile', [CompletionResultType]::ParameterName, 'Leave the saved profile as it is (plain `mwictl` commands keep using the lab it names); reach this lab with --auth-server and -i')
            [CompletionResult]::new('--proxy-l7', '--proxy-l7', [CompletionResultType]::ParameterName, 'Make the proxy behave like an L7 load balancer in front of Teleport (an AWS ALB, say): it ends TLS with the web certificate and negotiates only http/1.1, so clients reach auth with the connection upgrade (GET /webapi/connectionupgrade, a WebSocket)')
            [CompletionResult]::new('--admin-mfa', '--admin-mfa', [CompletionResultType]::ParameterName, 'Refuse admin-level requests (writes and deletes) without MFA, as a cluster whose only second factor is WebAuthn does; exempt are bots, certificates bots issued and the lab''s admin, not normal users (`mwictl lab user`)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;bot' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'tbot.yaml (v2) to read; flags given here override it')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'tbot.yaml (v2) to read; flags given here override it')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Internal data directory (tbot''s storage): key, tlscert, key-cert.pub, tlscacerts, sshcacerts, tokenhash, lock')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Join token (for bound_keypair, the token''s name), or an absolute path to a file holding it')
            [CompletionResult]::new('--join-method', '--join-method', [CompletionResultType]::ParameterName, 'Join method: token or bound_keypair [default: token]')
            [CompletionResult]::new('--registration-secret', '--registration-secret', [CompletionResultType]::ParameterName, 'bound_keypair: the token''s registration secret, for the first join without a preregistered key (else TBOT_REGISTRATION_SECRET)')
            [CompletionResult]::new('--join-uri', '--join-uri', [CompletionResultType]::ParameterName, 'A joining URI as `tctl bots add` prints it, e.g. tbot+auth+bound-keypair://TOKEN:SECRET@HOST:PORT; it overrides the address, method, token and secret given otherwise')
            [CompletionResult]::new('--renewal-interval', '--renewal-interval', [CompletionResultType]::ParameterName, 'How often to renew the bot identity (Go duration) [default: 20m]')
            [CompletionResult]::new('--credential-ttl', '--credential-ttl', [CompletionResultType]::ParameterName, 'Lifetime to request for certificates (Go duration) [default: 1h]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format')
            [CompletionResult]::new('--log-file', '--log-file', [CompletionResultType]::ParameterName, 'Also append the log to this file')
            [CompletionResult]::new('--ca-path', '--ca-path', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that verifies the auth server on the first join')
            [CompletionResult]::new('--ca-pin', '--ca-pin', [CompletionResultType]::ParameterName, 'SHA-256 of the CA''s SubjectPublicKeyInfo (`sha256:HEX`, as `tctl status` prints), verifying the auth server on the first join; repeatable')
            [CompletionResult]::new('--roles', '--roles', [CompletionResultType]::ParameterName, 'Roles to request for outputs that list none; without any, an output gets every role the bot may impersonate, as in tbot 19 (which removed per-output roles)')
            [CompletionResult]::new('--destination-dir', '--destination-dir', [CompletionResultType]::ParameterName, 'Add an identity output to this directory')
            [CompletionResult]::new('--ssh-login', '--ssh-login', [CompletionResultType]::ParameterName, 'Lab only: after writing each identity output, check that its certificate allows this SSH login, logging the refusal as `ssh` would (`mwictl lab break ssh-login`)')
            [CompletionResult]::new('--retry-base', '--retry-base', [CompletionResultType]::ParameterName, 'First wait between failed renewal attempts (doubles each time)')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--oneshot', '--oneshot', [CompletionResultType]::ParameterName, 'Join or renew once, write the outputs, and exit')
            [CompletionResult]::new('--no-data-dir-lock', '--no-data-dir-lock', [CompletionResultType]::ParameterName, 'Do not lock the data directory, so that two agents can share it (reproduces a generation mismatch)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the auth server on the first join (lab use only)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;break' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to break (created if missing)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Working directory for tbot.yaml, tbot.log, data/ and out/ [default: $MWICTL_HOME/lab-bots/NAME]. It must be new, empty, or one lab break used before')
            [CompletionResult]::new('--login', '--login', [CompletionResultType]::ParameterName, 'ssh-login: the SSH login the bot''s identity output asks for (its role allows only alice)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'db-access: the database registered in the lab that the bot''s output asks for')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--delete', '--delete', [CompletionResultType]::ParameterName, 'bk-token-wiped: delete the bot''s token instead of re-applying it without its status')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;db' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Register a database in the lab (or replace the labels of one registered before)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab;db;add' {
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'A label of the database, KEY=VALUE (repeatable or comma-separated)')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;db;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Register a database in the lab (or replace the labels of one registered before)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab;db;help;add' {
            break
        }
        'mwictl;lab;db;help;help' {
            break
        }
        'mwictl;lab;user' {
            [CompletionResult]::new('--roles', '--roles', [CompletionResultType]::ParameterName, 'Roles of the user (repeatable or comma-separated)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the identity file (mode 0600, replaced atomically)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Where to write the identity file (mode 0600, replaced atomically)')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'How long the identity is valid, e.g. 12h or 30s')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The lab''s data dir [default: the saved profile''s lab, else $MWICTL_HOME/lab]')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;keypair' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab;keypair;create' {
            [CompletionResult]::new('--storage', '--storage', [CompletionResultType]::ParameterName, 'The agent''s storage directory (its --data-dir / storage.path)')
            [CompletionResult]::new('--static-key-path', '--static-key-path', [CompletionResultType]::ParameterName, 'With --static: also write the private key to this file (mode 0600)')
            [CompletionResult]::new('--proxy-server', '--proxy-server', [CompletionResultType]::ParameterName, 'Ask this proxy''s /webapi/find for the cluster''s signature algorithm suite, which decides the key type, as tbot does (its web certificate is checked against the saved lab''s web CA)')
            [CompletionResult]::new('--suite', '--suite', [CompletionResultType]::ParameterName, 'The suite, without asking a proxy: Ed25519 keys, ECDSA P-256 for fips-v1 [default: legacy, the lab''s]')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--overwrite', '--overwrite', [CompletionResultType]::ParameterName, 'Replace an existing key instead of printing it')
            [CompletionResult]::new('--static', '--static', [CompletionResultType]::ParameterName, 'Make a static key, printed (base64 PEM) for TBOT_BOUND_KEYPAIR_STATIC_KEY')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'With --proxy-server: do not verify the proxy''s web certificate (lab only)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;keypair;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab;keypair;help;create' {
            break
        }
        'mwictl;lab;keypair;help;help' {
            break
        }
        'mwictl;lab;seed' {
            [CompletionResult]::new('--bots', '--bots', [CompletionResultType]::ParameterName, 'How many bots to add')
            [CompletionResult]::new('--instances', '--instances', [CompletionResultType]::ParameterName, 'How many bot instances to add (spread over the bots; needs --bots)')
            [CompletionResult]::new('--locks', '--locks', [CompletionResultType]::ParameterName, 'How many locks to add')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;snapshot' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'The file to write (it must not exist) [default: DATA_DIR/snapshots/lab-TIME.db]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The lab''s data dir [default: the saved lab profile''s, else $MWICTL_HOME/lab]')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;restore' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The lab''s data dir [default: the saved lab profile''s, else $MWICTL_HOME/lab]')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lab;help' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests')
            [CompletionResult]::new('bot', 'bot', [CompletionResultType]::ParameterValue, 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)')
            [CompletionResult]::new('break', 'break', [CompletionResultType]::ParameterValue, 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'Register databases in the lab, as database agents or auto-discovery would')
            [CompletionResult]::new('user', 'user', [CompletionResultType]::ParameterValue, 'Write an identity file for a normal user of the lab (created or updated with these roles)')
            [CompletionResult]::new('keypair', 'keypair', [CompletionResultType]::ParameterValue, 'Bound keypairs for the lab agent, as `tbot keypair`')
            [CompletionResult]::new('seed', 'seed', [CompletionResultType]::ParameterValue, 'Fill the lab with a synthetic fleet: bots, live instances and locks')
            [CompletionResult]::new('snapshot', 'snapshot', [CompletionResultType]::ParameterValue, 'Save a consistent copy of the lab''s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Roll the lab''s database back to a snapshot, as restoring an auth backend from a backup does')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab;help;start' {
            break
        }
        'mwictl;lab;help;bot' {
            break
        }
        'mwictl;lab;help;break' {
            break
        }
        'mwictl;lab;help;db' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Register a database in the lab (or replace the labels of one registered before)')
            break
        }
        'mwictl;lab;help;db;add' {
            break
        }
        'mwictl;lab;help;user' {
            break
        }
        'mwictl;lab;help;keypair' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`')
            break
        }
        'mwictl;lab;help;keypair;create' {
            break
        }
        'mwictl;lab;help;seed' {
            break
        }
        'mwictl;lab;help;snapshot' {
            break
        }
        'mwictl;lab;help;restore' {
            break
        }
        'mwictl;lab;help;help' {
            break
        }
        'mwictl;ping' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;doctor' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot the logs belong to: named in the fix commands and checked by --live when the lines do not name it (a finding whose lines name another bot says so)')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--live', '--live', [CompletionResultType]::ParameterName, 'Also ask the auth service whether each incident is still current (the lock still in force, the role still lacking the rule; for `database "x" not found`, whether x is registered, was renamed by auto-discovery, or is not registered at all; for the bound-keypair incidents S8–S12, each token''s recovery mode, count and limit, bound key and instance, and the locks on its bot)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;lint' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'A variable of tbot''s environment, e.g. TBOT_USE_PROXY_ADDR=yes; repeatable. Set after --unit''s, so it overrides them')
            [CompletionResult]::new('--unit', '--unit', [CompletionResultType]::ParameterName, 'The systemd unit tbot runs from: its `Environment=` lines and the `EnvironmentFile=` files it names (`-` before a path: may be missing) are tbot''s environment')
            [CompletionResult]::new('--teleport-version', '--teleport-version', [CompletionResultType]::ParameterName, 'The Teleport release tbot runs (e.g. 17.4.2); judges the configs against it. `17` or `17.4` stand for the newest release of that line')
            [CompletionResult]::new('--tbot', '--tbot', [CompletionResultType]::ParameterName, 'A tbot binary: its `tbot version` is the release to judge against (without this, a `tbot` on PATH is used when there is one)')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--fix', '--fix', [CompletionResultType]::ParameterName, 'Apply the safe fixes in place (only the needed bytes change; comments and formatting are kept), atomically, with a PATH.bak backup; prints the diff')
            [CompletionResult]::new('--on-host', '--on-host', [CompletionResultType]::ParameterName, 'Lint runs on the bot''s host: check paths and file systems here, and ask `auth_server` whether a Teleport proxy answers (`https://ADDRESS/webapi/find`, 3 s timeouts, the certificate not verified). Without it those checks are notes, not checked here')
            [CompletionResult]::new('--live', '--live', [CompletionResultType]::ParameterName, 'Ask the cluster (connects like every command: --auth-server/--identity or the profile): judge against its release (a Ping), and judge a bound-keypair static key against its token (recovery mode insecure, no `rotate_after`)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;get' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;rm' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With role/NAME: delete it even when bots use it (they lose what it granted)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;create' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Overwrite resources that already exist')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite resources that already exist')
            [CompletionResult]::new('--restore-status', '--restore-status', [CompletionResultType]::ParameterName, 'Write the `status` of join tokens from the file (restoring a backup: the bound key, bot instance and recovery count) instead of keeping the server''s. With -f an existing token is deleted and created again, the one way Teleport writes a given status')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;edit' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite even when the resource changed on the server since the edit began')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;unlock' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'Remove the locks that block this bot')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--scan-all', '--scan-all', [CompletionResultType]::ParameterName, 'With --bot: download every lock and also match locks on expired instance records by their message (slower with many locks)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the locks that would be removed, and remove nothing')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'With --bot or --resume: print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Continue the last interrupted or failed `unlock --bot` run (of any bot)')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'With --bot: start a new run even if an unfinished one exists for the bot (that one is marked abandoned; its backup stays)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;locks' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List locks: ID, target, message, created, expires (`never` when a lock does not end)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a lock: every API call matching its target is refused while it is in force')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;locks;ls' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'Only the locks that target this bot')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--in-force', '--in-force', [CompletionResultType]::ParameterName, 'Only the locks in force now (not those whose end has passed)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;locks;add' {
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Lock this user (a bot''s user is `bot-NAME`)')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Lock everyone holding this role')
            [CompletionResult]::new('--login', '--login', [CompletionResultType]::ParameterName, 'Lock this login (OS user) on SSH servers')
            [CompletionResult]::new('--bot-instance-id', '--bot-instance-id', [CompletionResultType]::ParameterName, 'Lock one bot instance by its UUID')
            [CompletionResult]::new('--join-token', '--join-token', [CompletionResultType]::ParameterName, 'Lock the bots joined with this token')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'Why: shown to whoever the lock refuses')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'End the lock after this long, e.g. 30m or 12h')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'End the lock at this time (RFC 3339, e.g. 2026-01-02T15:04:05Z)')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;locks;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List locks: ID, target, message, created, expires (`never` when a lock does not end)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a lock: every API call matching its target is refused while it is in force')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;locks;help;ls' {
            break
        }
        'mwictl;locks;help;add' {
            break
        }
        'mwictl;locks;help;help' {
            break
        }
        'mwictl;tokens' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List join tokens: token, type (roles), join method, bot, expiry')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Issue a join token for a bot (a new bot instance joins with it)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a join token, so nothing can join with it any more')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a join token. For a bound_keypair token: the bound key''s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)')
            [CompletionResult]::new('mode', 'mode', [CompletionResultType]::ParameterValue, 'Set a bound_keypair token''s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot''s key can recover it)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;tokens;ls' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--show-secrets', '--show-secrets', [CompletionResultType]::ParameterName, 'Show the tokens'' full names')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;tokens;add' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot the token joins as')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'How long the token (bound_keypair: its registration secret) stays valid, e.g. 30m or 2h')
            [CompletionResult]::new('--join-method', '--join-method', [CompletionResultType]::ParameterName, 'The join method of the token')
            [CompletionResult]::new('--initial-public-key', '--initial-public-key', [CompletionResultType]::ParameterName, 'bound_keypair: the bot''s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made')
            [CompletionResult]::new('--recovery-mode', '--recovery-mode', [CompletionResultType]::ParameterName, 'bound_keypair: standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)')
            [CompletionResult]::new('--recovery-limit', '--recovery-limit', [CompletionResultType]::ParameterName, 'bound_keypair: how many recoveries mode standard allows; onboarding is the first')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;tokens;rm' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;tokens;show' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;tokens;rotate' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;tokens;mode' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;tokens;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List join tokens: token, type (roles), join method, bot, expiry')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Issue a join token for a bot (a new bot instance joins with it)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a join token, so nothing can join with it any more')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a join token. For a bound_keypair token: the bound key''s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)')
            [CompletionResult]::new('mode', 'mode', [CompletionResultType]::ParameterValue, 'Set a bound_keypair token''s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot''s key can recover it)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;tokens;help;ls' {
            break
        }
        'mwictl;tokens;help;add' {
            break
        }
        'mwictl;tokens;help;rm' {
            break
        }
        'mwictl;tokens;help;show' {
            break
        }
        'mwictl;tokens;help;rotate' {
            break
        }
        'mwictl;tokens;help;mode' {
            break
        }
        'mwictl;tokens;help;help' {
            break
        }
        'mwictl;roles' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List roles: name, allowed logins, node labels and access to resources (rules)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List roles: name, allowed logins, node labels and access to resources (rules)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one role as YAML (the default, also for --format text) or JSON')
            [CompletionResult]::new('add-db-access', 'add-db-access', [CompletionResultType]::ParameterValue, 'Give a role database access: the rule and the db_labels, db_names and db_users grants')
            [CompletionResult]::new('add-login', 'add-login', [CompletionResultType]::ParameterValue, 'Add SSH logins (principals) to a role''s allow.logins')
            [CompletionResult]::new('remove-login', 'remove-login', [CompletionResultType]::ParameterValue, 'Remove SSH logins from a role''s allow.logins')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;roles;ls' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;roles;list' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;roles;show' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;roles;add-db-access' {
            [CompletionResult]::new('--db-labels', '--db-labels', [CompletionResultType]::ParameterName, 'Database labels to match, KEY=VALUE; repeat the flag or separate with commas. `''*=*''` matches every database')
            [CompletionResult]::new('--db-names', '--db-names', [CompletionResultType]::ParameterName, 'Database names (inside the database server) to allow; `*` for any')
            [CompletionResult]::new('--db-users', '--db-users', [CompletionResultType]::ParameterName, 'Database users to allow; `*` for any')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the diff only; write nothing (exit 0)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;roles;add-login' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the diff only; write nothing (exit 0)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;roles;remove-login' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the diff only; write nothing (exit 0)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;roles;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List roles: name, allowed logins, node labels and access to resources (rules)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one role as YAML (the default, also for --format text) or JSON')
            [CompletionResult]::new('add-db-access', 'add-db-access', [CompletionResultType]::ParameterValue, 'Give a role database access: the rule and the db_labels, db_names and db_users grants')
            [CompletionResult]::new('add-login', 'add-login', [CompletionResultType]::ParameterValue, 'Add SSH logins (principals) to a role''s allow.logins')
            [CompletionResult]::new('remove-login', 'remove-login', [CompletionResultType]::ParameterValue, 'Remove SSH logins from a role''s allow.logins')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;roles;help;ls' {
            break
        }
        'mwictl;roles;help;show' {
            break
        }
        'mwictl;roles;help;add-db-access' {
            break
        }
        'mwictl;roles;help;add-login' {
            break
        }
        'mwictl;roles;help;remove-login' {
            break
        }
        'mwictl;roles;help;help' {
            break
        }
        'mwictl;bots' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List bots with their lock state, live instances and join tokens')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a bot and its join token, like `tctl bots add`')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a bot''s roles, logins or max session TTL')
            [CompletionResult]::new('recreate', 'recreate', [CompletionResultType]::ParameterValue, 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token')
            [CompletionResult]::new('can', 'can', [CompletionResultType]::ParameterValue, 'Check whether the bot may log in as LOGIN or read database DB, from its roles')
            [CompletionResult]::new('instances', 'instances', [CompletionResultType]::ParameterValue, 'List, show and add bot instances (each tbot that joined is one)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;bots;ls' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;show' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;add' {
            [CompletionResult]::new('--roles', '--roles', [CompletionResultType]::ParameterName, 'Roles the bot''s outputs may use (it impersonates them), comma-separated')
            [CompletionResult]::new('--logins', '--logins', [CompletionResultType]::ParameterName, 'SSH logins, kept in the bot''s `logins` trait, comma-separated')
            [CompletionResult]::new('--max-session-ttl', '--max-session-ttl', [CompletionResultType]::ParameterName, 'The longest certificate the bot may get, like 12h (the server''s default is 12h)')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'How long the join token (bound-keypair: its registration secret) stays valid')
            [CompletionResult]::new('--initial-public-key', '--initial-public-key', [CompletionResultType]::ParameterName, 'The bot''s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made')
            [CompletionResult]::new('--recovery-mode', '--recovery-mode', [CompletionResultType]::ParameterName, 'standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)')
            [CompletionResult]::new('--recovery-limit', '--recovery-limit', [CompletionResultType]::ParameterName, 'How many recoveries mode standard allows; onboarding is the first [default: 1]')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--legacy', '--legacy', [CompletionResultType]::ParameterName, 'Issue a one-time `token` join (what tctl did before Teleport 19) instead of a bound-keypair token')
            [CompletionResult]::new('--keep-locks', '--keep-locks', [CompletionResultType]::ParameterName, 'Keep locks that already target the name; the bot stays blocked until `mwictl unlock --bot NAME`')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;rm' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--keep-locks', '--keep-locks', [CompletionResultType]::ParameterName, 'Keep the bot''s locks; a bot created again with this name stays blocked until `mwictl unlock --bot NAME`')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;update' {
            [CompletionResult]::new('--add-roles', '--add-roles', [CompletionResultType]::ParameterName, 'Roles to add, comma-separated')
            [CompletionResult]::new('--remove-roles', '--remove-roles', [CompletionResultType]::ParameterName, 'Roles to remove, comma-separated')
            [CompletionResult]::new('--set-roles', '--set-roles', [CompletionResultType]::ParameterName, 'Replace the roles with these, comma-separated')
            [CompletionResult]::new('--add-logins', '--add-logins', [CompletionResultType]::ParameterName, 'Logins to add to the `logins` trait, comma-separated')
            [CompletionResult]::new('--remove-logins', '--remove-logins', [CompletionResultType]::ParameterName, 'Logins to remove, comma-separated')
            [CompletionResult]::new('--set-logins', '--set-logins', [CompletionResultType]::ParameterName, 'Replace the logins with these, comma-separated')
            [CompletionResult]::new('--set-max-session-ttl', '--set-max-session-ttl', [CompletionResultType]::ParameterName, 'The longest certificate the bot may get, like 12h')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;recreate' {
            [CompletionResult]::new('--roles', '--roles', [CompletionResultType]::ParameterName, 'Create it with these roles instead of its current ones, comma-separated')
            [CompletionResult]::new('--add-roles', '--add-roles', [CompletionResultType]::ParameterName, 'Roles to add to its current ones, comma-separated')
            [CompletionResult]::new('--remove-roles', '--remove-roles', [CompletionResultType]::ParameterName, 'Roles to drop from its current ones, comma-separated')
            [CompletionResult]::new('--logins', '--logins', [CompletionResultType]::ParameterName, 'Create it with these logins instead of its current ones, comma-separated')
            [CompletionResult]::new('--add-logins', '--add-logins', [CompletionResultType]::ParameterName, 'Logins to add to its current ones, comma-separated')
            [CompletionResult]::new('--max-session-ttl', '--max-session-ttl', [CompletionResultType]::ParameterName, 'Create it with this max session TTL, like 12h')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'How long the join token stays valid')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Continue the last interrupted or failed `bots recreate` run (of any bot)')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;can' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ssh', 'ssh', [CompletionResultType]::ParameterValue, 'May the bot''s outputs log in over SSH as LOGIN (be issued it as a principal)?')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'May the bot''s outputs read database DB (get a database certificate for it)?')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;bots;can;ssh' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;can;db' {
            [CompletionResult]::new('--db-user', '--db-user', [CompletionResultType]::ParameterName, 'The database user to connect as (tbot''s `username`), checked against db_users')
            [CompletionResult]::new('--db-name', '--db-name', [CompletionResultType]::ParameterName, 'The database name inside the server (tbot''s `database`), checked against db_names')
            [CompletionResult]::new('--db-labels', '--db-labels', [CompletionResultType]::ParameterName, 'The database resource''s labels, KEY=VALUE (repeat or separate with commas), as `tsh db ls` shows them; without them label matching is not checked')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;can;help' {
            [CompletionResult]::new('ssh', 'ssh', [CompletionResultType]::ParameterValue, 'May the bot''s outputs log in over SSH as LOGIN (be issued it as a principal)?')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'May the bot''s outputs read database DB (get a database certificate for it)?')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;bots;can;help;ssh' {
            break
        }
        'mwictl;bots;can;help;db' {
            break
        }
        'mwictl;bots;can;help;help' {
            break
        }
        'mwictl;bots;instances' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List bot instances: ID, join method, version, hostname, status, last seen, locked')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Issue a join token for a new instance of a bot')
            [CompletionResult]::new('join', 'join', [CompletionResultType]::ParameterValue, 'Issue a join token for a new instance of a bot')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;bots;instances;ls' {
            [CompletionResult]::new('--search', '--search', [CompletionResultType]::ParameterName, 'Only instances whose bot name, ID, hostname, version or join method contains this')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'Only instances matching this predicate, e.g. ''older_than(version, "18.1.0")''')
            [CompletionResult]::new('--sort-index', '--sort-index', [CompletionResultType]::ParameterName, 'Sort by bot_name, active_at_latest (last seen), version_latest or host_name_latest')
            [CompletionResult]::new('--sort-order', '--sort-order', [CompletionResultType]::ParameterName, 'Sort order')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;instances;show' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;instances;add' {
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'How long the token (bound-keypair: its registration secret) stays valid')
            [CompletionResult]::new('--initial-public-key', '--initial-public-key', [CompletionResultType]::ParameterName, 'The bot''s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made')
            [CompletionResult]::new('--recovery-mode', '--recovery-mode', [CompletionResultType]::ParameterName, 'standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)')
            [CompletionResult]::new('--recovery-limit', '--recovery-limit', [CompletionResultType]::ParameterName, 'How many recoveries mode standard allows; onboarding is the first [default: 1]')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--legacy', '--legacy', [CompletionResultType]::ParameterName, 'Issue a one-time `token` join (what tctl did before Teleport 19) instead of a bound-keypair token')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;instances;join' {
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'How long the token (bound-keypair: its registration secret) stays valid')
            [CompletionResult]::new('--initial-public-key', '--initial-public-key', [CompletionResultType]::ParameterName, 'The bot''s public key (the authorized_keys line `tbot keypair create` prints); no registration secret is made')
            [CompletionResult]::new('--recovery-mode', '--recovery-mode', [CompletionResultType]::ParameterName, 'standard (the limit holds, join state checked), relaxed (no limit) or insecure (no limit, no join state; needed for static keys)')
            [CompletionResult]::new('--recovery-limit', '--recovery-limit', [CompletionResultType]::ParameterName, 'How many recoveries mode standard allows; onboarding is the first [default: 1]')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--legacy', '--legacy', [CompletionResultType]::ParameterName, 'Issue a one-time `token` join (what tctl did before Teleport 19) instead of a bound-keypair token')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;bots;instances;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List bot instances: ID, join method, version, hostname, status, last seen, locked')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Issue a join token for a new instance of a bot')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;bots;instances;help;ls' {
            break
        }
        'mwictl;bots;instances;help;show' {
            break
        }
        'mwictl;bots;instances;help;add' {
            break
        }
        'mwictl;bots;instances;help;help' {
            break
        }
        'mwictl;bots;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List bots with their lock state, live instances and join tokens')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a bot and its join token, like `tctl bots add`')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a bot''s roles, logins or max session TTL')
            [CompletionResult]::new('recreate', 'recreate', [CompletionResultType]::ParameterValue, 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token')
            [CompletionResult]::new('can', 'can', [CompletionResultType]::ParameterValue, 'Check whether the bot may log in as LOGIN or read database DB, from its roles')
            [CompletionResult]::new('instances', 'instances', [CompletionResultType]::ParameterValue, 'List, show and add bot instances (each tbot that joined is one)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;bots;help;ls' {
            break
        }
        'mwictl;bots;help;show' {
            break
        }
        'mwictl;bots;help;add' {
            break
        }
        'mwictl;bots;help;rm' {
            break
        }
        'mwictl;bots;help;update' {
            break
        }
        'mwictl;bots;help;recreate' {
            break
        }
        'mwictl;bots;help;can' {
            [CompletionResult]::new('ssh', 'ssh', [CompletionResultType]::ParameterValue, 'May the bot''s outputs log in over SSH as LOGIN (be issued it as a principal)?')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'May the bot''s outputs read database DB (get a database certificate for it)?')
            break
        }
        'mwictl;bots;help;can;ssh' {
            break
        }
        'mwictl;bots;help;can;db' {
            break
        }
        'mwictl;bots;help;instances' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List bot instances: ID, join method, version, hostname, status, last seen, locked')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Issue a join token for a new instance of a bot')
            break
        }
        'mwictl;bots;help;instances;ls' {
            break
        }
        'mwictl;bots;help;instances;show' {
            break
        }
        'mwictl;bots;help;instances;add' {
            break
        }
        'mwictl;bots;help;help' {
            break
        }
        'mwictl;recover' {
            [CompletionResult]::new('--run', '--run', [CompletionResultType]::ParameterName, 'With --resume: continue this run (its id, as reports and journal file names give it) instead of the newest')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Continue the last interrupted or failed recovery run (of any bot and flow)')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('generation-mismatch', 'generation-mismatch', [CompletionResultType]::ParameterValue, 'Recover a bot locked after a certificate generation mismatch (S1)')
            [CompletionResult]::new('expired', 'expired', [CompletionResultType]::ParameterValue, 'Recover a bot whose identity expired (S2)')
            [CompletionResult]::new('ssh-login', 'ssh-login', [CompletionResultType]::ParameterValue, 'Let a bot log in over SSH as LOGIN (S3)')
            [CompletionResult]::new('db-access', 'db-access', [CompletionResultType]::ParameterValue, 'Let a bot reach database DB (S4)')
            [CompletionResult]::new('bk-exhausted', 'bk-exhausted', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose recovery limit is used up (S8)')
            [CompletionResult]::new('bk-join-state', 'bk-join-state', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)')
            [CompletionResult]::new('bk-token-wiped', 'bk-token-wiped', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)')
            [CompletionResult]::new('bk-keypair-lost', 'bk-keypair-lost', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot that lost its private key (S11)')
            [CompletionResult]::new('bk-rollback', 'bk-rollback', [CompletionResultType]::ParameterValue, 'Let every bound-keypair bot rejoin after an auth backend restore (S12)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;recover;generation-mismatch' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to recover')
            [CompletionResult]::new('--bots', '--bots', [CompletionResultType]::ParameterName, 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'How many bots a bulk run recovers at once')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--all-locked', '--all-locked', [CompletionResultType]::ParameterName, 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot''s name')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;expired' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to recover')
            [CompletionResult]::new('--bots', '--bots', [CompletionResultType]::ParameterName, 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'How many bots a bulk run recovers at once')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--all-locked', '--all-locked', [CompletionResultType]::ParameterName, 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot''s name')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;ssh-login' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to fix')
            [CompletionResult]::new('--login', '--login', [CompletionResultType]::ParameterName, 'The SSH login (Unix user) the bot must be allowed')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Add the login to this role (one the bot impersonates)')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--trait', '--trait', [CompletionResultType]::ParameterName, 'Add the login to the bot''s `logins` trait instead of a role')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;db-access' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to fix')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The Teleport database resource name (tbot''s database output `service`)')
            [CompletionResult]::new('--db-user', '--db-user', [CompletionResultType]::ParameterName, 'The database user tbot connects as (its `username`), added to db_users')
            [CompletionResult]::new('--db-name', '--db-name', [CompletionResultType]::ParameterName, 'The database name inside it (tbot''s `database`), added to db_names')
            [CompletionResult]::new('--db-labels', '--db-labels', [CompletionResultType]::ParameterName, 'Labels to add to the role''s db_labels, KEY=VALUE (repeatable or comma-separated); needed when no role of the bot has db_labels. `tsh db ls` shows the database''s labels')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Add the access to this role (one the bot impersonates) [default: the role the access check names, else the bot''s first role]')
            [CompletionResult]::new('--recreate', '--recreate', [CompletionResultType]::ParameterName, 'Instead of editing a role, recreate the bot with ROLE (an existing role that grants the database) added to its roles, keeping everything else; a new join token is issued')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;bk-exhausted' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to recover')
            [CompletionResult]::new('--bots', '--bots', [CompletionResultType]::ParameterName, 'Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan)')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'How many bots a bulk run recovers at once')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The bound-keypair token tbot joins with, when the bot has several')
            [CompletionResult]::new('--spare', '--spare', [CompletionResultType]::ParameterName, 'Recoveries above recovery_count the new limit allows (1: this recovery only)')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--all-locked', '--all-locked', [CompletionResultType]::ParameterName, 'Recover every bot that needs this flow, as `mwictl triage` finds them: for generation-mismatch the bots a lock blocks, for expired those with no live instance and no unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd may hold {bot}, replaced by each bot''s name')
            [CompletionResult]::new('--relaxed', '--relaxed', [CompletionResultType]::ParameterName, 'Set recovery mode relaxed instead of raising the limit (it stays relaxed)')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;bk-join-state' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to recover')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The bound-keypair token tbot joins with, when the bot has several')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;bk-token-wiped' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to recover')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The token to recreate (default: the bot''s only bound-keypair token, or the one tbot.yaml''s onboarding.token names); needed when it was deleted and no --tbot-config is given')
            [CompletionResult]::new('--storage', '--storage', [CompletionResultType]::ParameterName, 'tbot''s storage directory (storage.path in tbot.yaml): the bot''s public key is its id_bkp.pub, its join state names the bot instance and recovery count to restore')
            [CompletionResult]::new('--public-key', '--public-key', [CompletionResultType]::ParameterName, 'The bot''s public key in authorized_keys form (the content of id_bkp.pub), or @FILE')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;bk-keypair-lost' {
            [CompletionResult]::new('--bot', '--bot', [CompletionResultType]::ParameterName, 'The bot to recover')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The bot''s bound-keypair token, when it has several (default: its only one, or the one tbot.yaml''s onboarding.token names)')
            [CompletionResult]::new('--storage', '--storage', [CompletionResultType]::ParameterName, 'tbot''s storage directory (storage.path in tbot.yaml): its stale key files are moved into the run''s backups, never deleted')
            [CompletionResult]::new('--public-key', '--public-key', [CompletionResultType]::ParameterName, 'Preregister this new public key (`tbot keypair create` prints it; or @FILE) instead of a registration secret')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;bk-rollback' {
            [CompletionResult]::new('--bots', '--bots', [CompletionResultType]::ParameterName, 'Only these bots (comma-separated); every bot with a bound-keypair token when omitted')
            [CompletionResult]::new('--tbot-config', '--tbot-config', [CompletionResultType]::ParameterName, 'The tbot.yaml to write the new token into (onboarding.token; when that value is an absolute path, into the file it names, as tbot reads it). Only the token''s bytes change; the file is replaced atomically, keeps its mode and owner, and a backup stays beside it. In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot''s name')
            [CompletionResult]::new('--restart-cmd', '--restart-cmd', [CompletionResultType]::ParameterName, 'A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`; MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run (--bots, --all-locked) {bot} in CMD stands for each bot''s name')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes until the bot renewed, for at most DURATION (e.g. 2m); then say what to check')
            [CompletionResult]::new('--token-ttl', '--token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the new one-time join token')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (text, or JSON with --format json) and change nothing')
            [CompletionResult]::new('--new-run', '--new-run', [CompletionResultType]::ParameterName, 'Start a new run even if an unfinished one exists for this bot and flow (that one is marked abandoned; its backups stay)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;recover;help' {
            [CompletionResult]::new('generation-mismatch', 'generation-mismatch', [CompletionResultType]::ParameterValue, 'Recover a bot locked after a certificate generation mismatch (S1)')
            [CompletionResult]::new('expired', 'expired', [CompletionResultType]::ParameterValue, 'Recover a bot whose identity expired (S2)')
            [CompletionResult]::new('ssh-login', 'ssh-login', [CompletionResultType]::ParameterValue, 'Let a bot log in over SSH as LOGIN (S3)')
            [CompletionResult]::new('db-access', 'db-access', [CompletionResultType]::ParameterValue, 'Let a bot reach database DB (S4)')
            [CompletionResult]::new('bk-exhausted', 'bk-exhausted', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose recovery limit is used up (S8)')
            [CompletionResult]::new('bk-join-state', 'bk-join-state', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)')
            [CompletionResult]::new('bk-token-wiped', 'bk-token-wiped', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)')
            [CompletionResult]::new('bk-keypair-lost', 'bk-keypair-lost', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot that lost its private key (S11)')
            [CompletionResult]::new('bk-rollback', 'bk-rollback', [CompletionResultType]::ParameterValue, 'Let every bound-keypair bot rejoin after an auth backend restore (S12)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;recover;help;generation-mismatch' {
            break
        }
        'mwictl;recover;help;expired' {
            break
        }
        'mwictl;recover;help;ssh-login' {
            break
        }
        'mwictl;recover;help;db-access' {
            break
        }
        'mwictl;recover;help;bk-exhausted' {
            break
        }
        'mwictl;recover;help;bk-join-state' {
            break
        }
        'mwictl;recover;help;bk-token-wiped' {
            break
        }
        'mwictl;recover;help;bk-keypair-lost' {
            break
        }
        'mwictl;recover;help;bk-rollback' {
            break
        }
        'mwictl;recover;help;help' {
            break
        }
        'mwictl;triage' {
            [CompletionResult]::new('--renewal-interval', '--renewal-interval', [CompletionResultType]::ParameterName, 'tbot''s renewal interval: an identity that expires sooner has missed its renewals')
            [CompletionResult]::new('--stale-after', '--stale-after', [CompletionResultType]::ParameterName, 'A live instance whose newest heartbeat is older than this is stale')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;fleet' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the fleet''s triage as Prometheus metrics at http://ADDR/metrics')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;fleet;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'The address to listen on, like 127.0.0.1:9464 (port 0: any free port, printed)')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'How often to refresh the triage')
            [CompletionResult]::new('--renewal-interval', '--renewal-interval', [CompletionResultType]::ParameterName, 'tbot''s renewal interval: an identity that expires sooner has missed its renewals')
            [CompletionResult]::new('--stale-after', '--stale-after', [CompletionResultType]::ParameterName, 'A live instance whose newest heartbeat is older than this is stale')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;fleet;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the fleet''s triage as Prometheus metrics at http://ADDR/metrics')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;fleet;help;serve' {
            break
        }
        'mwictl;fleet;help;help' {
            break
        }
        'mwictl;demo' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the temp dir (lab data, the bot''s tbot.yaml and log, the recovery journal and backups) to look at afterwards')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;completions' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the proxy''s web certificate (only the connection upgrade behind an L7 load balancer meets it; auth is still checked against the identity''s CA), as tctl''s --insecure')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to every confirmation (for scripts; no TTY needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines or warnings on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mwictl;help' {
            [CompletionResult]::new('lab', 'lab', [CompletionResultType]::ParameterValue, 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests')
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'Check the connection to the auth service: cluster name, server version, and which address and credentials were used (from flags, the saved profile or a tsh profile)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Diagnose tbot from its logs: name the incident (S1–S7 or another), show the evidence lines, explain the cause and print the exact fix (the mwictl command and the tctl equivalent)')
            [CompletionResult]::new('lint', 'lint', [CompletionResultType]::ParameterValue, 'Check tbot.yaml files: schema (unknown keys with "did you mean", wrong types, v1 and deprecated `outputs:`), and the rules behind the troubleshooting guide''s incidents (kubernetes_secret without disable_exec_plugin, auth_server with ssh_config on, split-DNS proxies, shared or network-mounted storage, TTLs, token paths, duplicate destinations)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print resources: every one of a kind, or one by name')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a resource: lock/NAME, role/NAME, token/NAME, bot/NAME or bot_instance/BOT/UUID')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create resources from a file in tctl''s format (YAML documents or JSON), or from stdin')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Edit a resource in your editor: lock/NAME, role/NAME, token/NAME or bot/NAME')
            [CompletionResult]::new('unlock', 'unlock', [CompletionResultType]::ParameterValue, 'Remove every lock that blocks a bot, or the locks named by ID, with a backup')
            [CompletionResult]::new('locks', 'locks', [CompletionResultType]::ParameterValue, 'List and add locks (remove them with `mwictl unlock`)')
            [CompletionResult]::new('tokens', 'tokens', [CompletionResultType]::ParameterValue, 'List, add and remove bot join tokens')
            [CompletionResult]::new('roles', 'roles', [CompletionResultType]::ParameterValue, 'Inspect roles and fix them in one command: add or remove logins, add database access')
            [CompletionResult]::new('bots', 'bots', [CompletionResultType]::ParameterValue, 'Bots: list with their health, show, add, remove, update, recreate; their instances')
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Recover a bot: diagnose it, show the plan, fix it, update tbot.yaml and verify')
            [CompletionResult]::new('triage', 'triage', [CompletionResultType]::ParameterValue, 'Rank every bot by what needs attention, each reason with the command that fixes it')
            [CompletionResult]::new('fleet', 'fleet', [CompletionResultType]::ParameterValue, 'Fleet monitoring: serve the triage as Prometheus metrics')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Watch a bot break and recover, end to end, in a throwaway lab (a few seconds)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the shell completion script for SHELL to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;help;lab' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests')
            [CompletionResult]::new('bot', 'bot', [CompletionResultType]::ParameterValue, 'Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service)')
            [CompletionResult]::new('break', 'break', [CompletionResultType]::ParameterValue, 'Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'Register databases in the lab, as database agents or auto-discovery would')
            [CompletionResult]::new('user', 'user', [CompletionResultType]::ParameterValue, 'Write an identity file for a normal user of the lab (created or updated with these roles)')
            [CompletionResult]::new('keypair', 'keypair', [CompletionResultType]::ParameterValue, 'Bound keypairs for the lab agent, as `tbot keypair`')
            [CompletionResult]::new('seed', 'seed', [CompletionResultType]::ParameterValue, 'Fill the lab with a synthetic fleet: bots, live instances and locks')
            [CompletionResult]::new('snapshot', 'snapshot', [CompletionResultType]::ParameterValue, 'Save a consistent copy of the lab''s database (every resource: roles, users, bots, tokens with their status, bot instances, locks)')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Roll the lab''s database back to a snapshot, as restoring an auth backend from a backup does')
            break
        }
        'mwictl;help;lab;start' {
            break
        }
        'mwictl;help;lab;bot' {
            break
        }
        'mwictl;help;lab;break' {
            break
        }
        'mwictl;help;lab;db' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Register a database in the lab (or replace the labels of one registered before)')
            break
        }
        'mwictl;help;lab;db;add' {
            break
        }
        'mwictl;help;lab;user' {
            break
        }
        'mwictl;help;lab;keypair' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`')
            break
        }
        'mwictl;help;lab;keypair;create' {
            break
        }
        'mwictl;help;lab;seed' {
            break
        }
        'mwictl;help;lab;snapshot' {
            break
        }
        'mwictl;help;lab;restore' {
            break
        }
        'mwictl;help;ping' {
            break
        }
        'mwictl;help;doctor' {
            break
        }
        'mwictl;help;lint' {
            break
        }
        'mwictl;help;get' {
            break
        }
        'mwictl;help;rm' {
            break
        }
        'mwictl;help;create' {
            break
        }
        'mwictl;help;edit' {
            break
        }
        'mwictl;help;unlock' {
            break
        }
        'mwictl;help;locks' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List locks: ID, target, message, created, expires (`never` when a lock does not end)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a lock: every API call matching its target is refused while it is in force')
            break
        }
        'mwictl;help;locks;ls' {
            break
        }
        'mwictl;help;locks;add' {
            break
        }
        'mwictl;help;tokens' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List join tokens: token, type (roles), join method, bot, expiry')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Issue a join token for a bot (a new bot instance joins with it)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a join token, so nothing can join with it any more')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a join token. For a bound_keypair token: the bound key''s fingerprint (as `ssh-keygen -l` prints it), the bound bot instance, recoveries used and left against the limit (mode standard enforces it), the recovery mode, the last recovery and rotation, and whether a rotation is pending')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to now, so the bot must make a new keypair and prove it at its next join (renewal or recovery)')
            [CompletionResult]::new('mode', 'mode', [CompletionResultType]::ParameterValue, 'Set a bound_keypair token''s recovery mode (spec.bound_keypair.recovery.mode): standard enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the join-state check (anyone holding the bot''s key can recover it)')
            break
        }
        'mwictl;help;tokens;ls' {
            break
        }
        'mwictl;help;tokens;add' {
            break
        }
        'mwictl;help;tokens;rm' {
            break
        }
        'mwictl;help;tokens;show' {
            break
        }
        'mwictl;help;tokens;rotate' {
            break
        }
        'mwictl;help;tokens;mode' {
            break
        }
        'mwictl;help;roles' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List roles: name, allowed logins, node labels and access to resources (rules)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one role as YAML (the default, also for --format text) or JSON')
            [CompletionResult]::new('add-db-access', 'add-db-access', [CompletionResultType]::ParameterValue, 'Give a role database access: the rule and the db_labels, db_names and db_users grants')
            [CompletionResult]::new('add-login', 'add-login', [CompletionResultType]::ParameterValue, 'Add SSH logins (principals) to a role''s allow.logins')
            [CompletionResult]::new('remove-login', 'remove-login', [CompletionResultType]::ParameterValue, 'Remove SSH logins from a role''s allow.logins')
            break
        }
        'mwictl;help;roles;ls' {
            break
        }
        'mwictl;help;roles;show' {
            break
        }
        'mwictl;help;roles;add-db-access' {
            break
        }
        'mwictl;help;roles;add-login' {
            break
        }
        'mwictl;help;roles;remove-login' {
            break
        }
        'mwictl;help;bots' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List bots with their lock state, live instances and join tokens')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a bot and its join token, like `tctl bots add`')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a bot (its user and role `bot-NAME`), and remove or keep its locks')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a bot''s roles, logins or max session TTL')
            [CompletionResult]::new('recreate', 'recreate', [CompletionResultType]::ParameterValue, 'Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token')
            [CompletionResult]::new('can', 'can', [CompletionResultType]::ParameterValue, 'Check whether the bot may log in as LOGIN or read database DB, from its roles')
            [CompletionResult]::new('instances', 'instances', [CompletionResultType]::ParameterValue, 'List, show and add bot instances (each tbot that joined is one)')
            break
        }
        'mwictl;help;bots;ls' {
            break
        }
        'mwictl;help;bots;show' {
            break
        }
        'mwictl;help;bots;add' {
            break
        }
        'mwictl;help;bots;rm' {
            break
        }
        'mwictl;help;bots;update' {
            break
        }
        'mwictl;help;bots;recreate' {
            break
        }
        'mwictl;help;bots;can' {
            [CompletionResult]::new('ssh', 'ssh', [CompletionResultType]::ParameterValue, 'May the bot''s outputs log in over SSH as LOGIN (be issued it as a principal)?')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'May the bot''s outputs read database DB (get a database certificate for it)?')
            break
        }
        'mwictl;help;bots;can;ssh' {
            break
        }
        'mwictl;help;bots;can;db' {
            break
        }
        'mwictl;help;bots;instances' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List bot instances: ID, join method, version, hostname, status, last seen, locked')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one bot instance: authentications, generation, latest heartbeat, services, lock state')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Issue a join token for a new instance of a bot')
            break
        }
        'mwictl;help;bots;instances;ls' {
            break
        }
        'mwictl;help;bots;instances;show' {
            break
        }
        'mwictl;help;bots;instances;add' {
            break
        }
        'mwictl;help;recover' {
            [CompletionResult]::new('generation-mismatch', 'generation-mismatch', [CompletionResultType]::ParameterValue, 'Recover a bot locked after a certificate generation mismatch (S1)')
            [CompletionResult]::new('expired', 'expired', [CompletionResultType]::ParameterValue, 'Recover a bot whose identity expired (S2)')
            [CompletionResult]::new('ssh-login', 'ssh-login', [CompletionResultType]::ParameterValue, 'Let a bot log in over SSH as LOGIN (S3)')
            [CompletionResult]::new('db-access', 'db-access', [CompletionResultType]::ParameterValue, 'Let a bot reach database DB (S4)')
            [CompletionResult]::new('bk-exhausted', 'bk-exhausted', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose recovery limit is used up (S8)')
            [CompletionResult]::new('bk-join-state', 'bk-join-state', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9)')
            [CompletionResult]::new('bk-token-wiped', 'bk-token-wiped', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot whose token was deleted or lost its status (S10)')
            [CompletionResult]::new('bk-keypair-lost', 'bk-keypair-lost', [CompletionResultType]::ParameterValue, 'Recover a bound-keypair bot that lost its private key (S11)')
            [CompletionResult]::new('bk-rollback', 'bk-rollback', [CompletionResultType]::ParameterValue, 'Let every bound-keypair bot rejoin after an auth backend restore (S12)')
            break
        }
        'mwictl;help;recover;generation-mismatch' {
            break
        }
        'mwictl;help;recover;expired' {
            break
        }
        'mwictl;help;recover;ssh-login' {
            break
        }
        'mwictl;help;recover;db-access' {
            break
        }
        'mwictl;help;recover;bk-exhausted' {
            break
        }
        'mwictl;help;recover;bk-join-state' {
            break
        }
        'mwictl;help;recover;bk-token-wiped' {
            break
        }
        'mwictl;help;recover;bk-keypair-lost' {
            break
        }
        'mwictl;help;recover;bk-rollback' {
            break
        }
        'mwictl;help;triage' {
            break
        }
        'mwictl;help;fleet' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the fleet''s triage as Prometheus metrics at http://ADDR/metrics')
            break
        }
        'mwictl;help;fleet;serve' {
            break
        }
        'mwictl;help;demo' {
            break
        }
        'mwictl;help;completions' {
            break
        }
        'mwictl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
