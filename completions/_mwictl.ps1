
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
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
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
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'Check the connection to the auth service: cluster name, server version, and which address and identity were used (from flags or the saved profile)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print resources: every one of a kind, or one by name')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the shell completion script for SHELL to stdout')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write shell completions to DIR/completions and man pages to DIR/man')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
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
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab;start' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Where the CA, the admin identity and the database live [default: $MWICTL_HOME/lab]')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on; port 0 picks a free port')
            [CompletionResult]::new('--cluster-name', '--cluster-name', [CompletionResultType]::ParameterName, 'Cluster name, fixed on the first start [default: the stored name, else "lab"]')
            [CompletionResult]::new('--lock-style', '--lock-style', [CompletionResultType]::ParameterName, 'What a bot''s certificate generation mismatch locks: the bot''s user (Teleport up to v18) or only the bot instance (newer Teleport)')
            [CompletionResult]::new('--bot-ttl', '--bot-ttl', [CompletionResultType]::ParameterName, 'Lifetime of the certificates bots get, e.g. 1h or 20m')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
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
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;lab;help;start' {
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
        'mwictl;generate-docs' {
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the data written to stdout')
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
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'Check the connection to the auth service: cluster name, server version, and which address and identity were used (from flags or the saved profile)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print resources: every one of a kind, or one by name')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the shell completion script for SHELL to stdout')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write shell completions to DIR/completions and man pages to DIR/man')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mwictl;help;lab' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests')
            break
        }
        'mwictl;help;lab;start' {
            break
        }
        'mwictl;help;ping' {
            break
        }
        'mwictl;help;get' {
            break
        }
        'mwictl;help;completions' {
            break
        }
        'mwictl;help;generate-docs' {
            break
        }
        'mwictl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
