#requires -Version 7.4
<#
.SYNOPSIS
    The C suite: tests/c/test_abi.c, tests/c/smoke.c and examples/c/send_mail.c against the
    committed header and a running emulator (--strict), natively and under valgrind.
.DESCRIPTION
    build.ps1 test runs it after the shared build (it builds nothing itself: the native library and
    the emulator come from target/<profile>). Each C program is compiled with
    -Wall -Wextra -Wpedantic -Werror -std=c11 against include/pmp_mail.h; every run's stdout and
    stderr is shown and kept, and the suite fails if any of it holds the client secret or an
    access token ("eyJ"). Other checks: test_abi runs exactly $TestAbiChecks checks and prints the
    wrong-secret error document; the example fails with a wrong secret and shows AADSTS7000215;
    the emulator's control API (over TLS validated against its CA) shows exactly 37 messages, and
    the ones test_abi sent through pmp_send_mail_with_buffers carry its buffer byte for byte.
    test_abi's Google section runs with a fault plan (a 429, a connection dropped after accept)
    and each run's Gmail records are checked: once each, byte-exact, non-ASCII intact, one token
    per user for 8 concurrent sends, nothing for a user without domain-wide delegation.
    Prints "N passed, M failed" last and throws when anything failed.

    Needs a C compiler (gcc or cc; $env:CC overrides) and valgrind. Windows is not supported yet
    (see Get-CCompiler).
.EXAMPLE
    dotnet pwsh ./build.ps1 test -Suite c-abi
#>
[CmdletBinding()]
param(
    [string] $CargoProfile = 'debug'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')

$repo = Get-PmpRepositoryRoot
# How many checks test_abi runs ("checks run: N"): a block removed or skipped is a failure.
$TestAbiChecks = 100

function Get-CCompiler {
    <#
    The C compiler step, as an object: Command, and CompileArguments (a script block taking
    source, output, include folder and the native library from Get-PmpNativeLibrary) that returns
    the arguments to compile and link one program. A Windows runner plugs in here (cl.exe or
    clang-cl linking pmp_mail.dll.lib, the DLL beside the program instead of an rpath).
    #>
    if ($IsWindows) {
        throw 'The C suite is not supported on Windows yet: it needs a compiler step for MSVC/clang-cl (see Get-CCompiler in tools/Invoke-CAbiTests.ps1).'
    }
    $candidates = @($env:CC, 'gcc', 'cc') | Where-Object { $_ }
    $found = $candidates | ForEach-Object { Get-Command $_ -CommandType Application -ErrorAction Ignore } | Select-Object -First 1
    if (-not $found) { throw "No C compiler found (tried $($candidates -join ', ')); install gcc (Debian/Ubuntu: apt-get install gcc)." }
    [pscustomobject]@{
        Command          = $found.Source
        CompileArguments = {
            param([string] $Source, [string] $Output, [string] $IncludeDirectory, $Library)
            @('-Wall', '-Wextra', '-Wpedantic', '-Werror', '-std=c11', "-I$IncludeDirectory", $Source,
                "-L$($Library.Directory)", "-l$($Library.Name)", "-Wl,-rpath,$($Library.Directory)", '-o', $Output)
        }
    }
}

$compiler = Get-CCompiler
if (-not (Get-Command valgrind -CommandType Application -ErrorAction Ignore)) {
    throw "valgrind is required but not installed (Debian/Ubuntu: apt-get install valgrind)."
}
$library = Get-PmpNativeLibrary -CargoProfile $CargoProfile
if (-not (Test-Path -LiteralPath $library.Path)) {
    throw "The native library is not at $($library.Path); build it first: dotnet pwsh ./build.ps1 build"
}

$checks = New-PmpCheckRun
function Step([string] $StepName, [scriptblock] $StepBody) { Invoke-PmpCheck $checks $StepName $StepBody }

$work = Join-Path ([System.IO.Path]::GetTempPath()) ('pmp-c-abi-' + [guid]::NewGuid().ToString('n'))
New-Item -ItemType Directory -Path $work | Out-Null
$emulator = $null
try {
    $secret = "c-test-secret-$(Get-Random)$(Get-Random)"
    $tenant = '11111111-1111-1111-1111-111111111111'
    $clientId = '22222222-2222-2222-2222-222222222222'
    $mailbox = 'alerts@contoso.onmicrosoft.com'
    # Google Workspace: the same C program sends through Gmail when the config says so.
    $googleAccount = 'c-tests@pmp-c-tests.iam.gserviceaccount.com'
    $googleClientId = '123456789012345678901'
    $googleUser = 'alerts@example.com'
    @"
[[tenants]]
id = "$tenant"
domains = ["contoso.onmicrosoft.com"]
cloud = "global"

[[apps]]
tenant = "$tenant"
clientId = "$clientId"
displayName = "C test app"
enabled = true
roles = ["Mail.Send", "Mail.ReadWrite"]
secrets = [{ value = "$secret", expires = "2099-01-01T00:00:00Z" }]

[[mailboxes]]
tenant = "$tenant"
address = "$mailbox"
exists = true
restEnabled = true

[[google.projects]]
id = "pmp-c-tests"

[[google.serviceAccounts]]
project = "pmp-c-tests"
clientEmail = "$googleAccount"
clientId = "$googleClientId"

[[google.domains]]
name = "example.com"
# c-ann and c-bob: only test_abi's concurrent sends use them, so their token counts are theirs.
users = [{ address = "$googleUser" }, { address = "c-ann@example.com" }, { address = "c-bob@example.com" }]
delegations = [{ clientId = "$googleClientId", scopes = ["https://www.googleapis.com/auth/gmail.send"] }]

# A domain whose admin delegated nothing: unauthorized_client, the Admin-console remedy.
[[google.domains]]
name = "nodwd.example"
users = [{ address = "alerts@nodwd.example" }]
"@ | Set-Content -LiteralPath (Join-Path $work 'directory.toml') -Encoding utf8NoBOM

    $emulator = Start-PmpEmulator -CargoProfile $CargoProfile -Strict -ConfigPath (Join-Path $work 'directory.toml') `
        -StateDir (Join-Path $work 'state') -StandardErrorPath (Join-Path $work 'emulator.err')

    # Compact JSON: test_abi.c finds "auth":{...} and "secret":"..." in the text.
    function New-ClientConfig([string] $Secret) {
        $client = New-PmpEmulatorClientConfig -Emulator $emulator -ClientId $clientId -Secret $Secret -TimeoutSeconds 60
        $client.retry = [ordered]@{ maxAttempts = 3; maxTotalWaitSeconds = 30 }
        $client | ConvertTo-Json -Compress -Depth 5
    }
    $config = Join-Path $work 'config.json'
    $wrongConfig = Join-Path $work 'wrong-secret.json'
    # The same app with a wrong secret that embeds the right one, so the leak check finds either.
    foreach ($file in @(@{ Path = $config; Secret = $secret }, @{ Path = $wrongConfig; Secret = "$secret-wrong" })) {
        $text = New-ClientConfig $file.Secret
        if (-not $text.Contains("`"auth`":{`"type`":`"clientSecret`",`"secret`":`"$($file.Secret)`"}")) {
            throw "could not write $($file.Path) with the secret in the form test_abi.c reads"
        }
        [System.IO.File]::WriteAllText($file.Path, $text)
    }

    # A key file the emulator issues (the private key never leaves this run), and a
    # googleWorkspace config that names it.
    $googleKeyText = Invoke-PmpEmulatorControl $emulator 'google/keys' -Method POST -Body @{ clientEmail = $googleAccount } -Raw
    $googleKeyLine = @($googleKeyText -split '\\n' | Where-Object { $_.Length -gt 40 -and $_ -notmatch '[":]' })[0]
    if (-not $googleKeyLine) { throw 'the emulator issued a key file without a private key' }
    $googleKey = Join-Path $work 'google-sa.json'
    [System.IO.File]::WriteAllText($googleKey, $googleKeyText)
    $googleConfig = Join-Path $work 'google-config.json'
    [System.IO.File]::WriteAllText($googleConfig, ([ordered]@{
                provider = 'googleWorkspace'
                auth     = [ordered]@{ type = 'serviceAccountKey'; keyPath = $googleKey }
                google   = [ordered]@{ impersonate = $googleUser; tokenUri = "$($emulator.BaseUrl)/token"; gmailRoot = $emulator.BaseUrl }
                http     = [ordered]@{ extraCaCertificatesPem = (Get-Content -LiteralPath $emulator.CaPath -Raw); useSystemProxy = $false; timeoutSeconds = 60 }
                retry    = [ordered]@{ maxAttempts = 3; maxTotalWaitSeconds = 30 }
            } | ConvertTo-Json -Compress -Depth 5))
    # test_abi's Google section: no impersonate (each message's From is the user), and a random
    # attachment above 5 MiB (a resumable upload) whose SHA-256 the emulator's record must show.
    $googleAbiConfig = Join-Path $work 'google-abi-config.json'
    [System.IO.File]::WriteAllText($googleAbiConfig, ([ordered]@{
                provider = 'googleWorkspace'
                auth     = [ordered]@{ type = 'serviceAccountKey'; keyPath = $googleKey }
                google   = [ordered]@{ tokenUri = "$($emulator.BaseUrl)/token"; gmailRoot = $emulator.BaseUrl }
                http     = [ordered]@{ extraCaCertificatesPem = (Get-Content -LiteralPath $emulator.CaPath -Raw); useSystemProxy = $false; timeoutSeconds = 60 }
                retry    = [ordered]@{ maxAttempts = 3; maxTotalWaitSeconds = 30 }
            } | ConvertTo-Json -Compress -Depth 5))
    $largeFile = Join-Path $work 'large.bin'
    [System.IO.File]::WriteAllBytes($largeFile, [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(6 * 1024 * 1024 + 3))
    $largeSha256 = (Get-FileHash -LiteralPath $largeFile -Algorithm SHA256).Hash.ToLowerInvariant()
    # What test_abi's Google section expects: its first Gmail send is throttled once (429,
    # Retry-After: 1), and the connection of its second message drops after Gmail accepted it.
    # Rule 2 never sees the requests rule 1 answers; its skip lets the throttled send's retry through.
    $gmailFaults = @{ rules = @(
            @{ path = 'gmailSend'; action = 'status'; status = 429; retryAfterSeconds = 1; graphCode = 'rateLimitExceeded'; count = 1 }
            @{ path = 'gmailSend'; action = 'dropAfterAccept'; skip = 1; count = 1 }
        )
    }

    $include = Join-Path $repo 'include'
    $programs = [ordered]@{
        smoke     = Join-Path $repo 'tests/c/smoke.c'
        test_abi  = Join-Path $repo 'tests/c/test_abi.c'
        send_mail = Join-Path $repo 'examples/c/send_mail.c'
        # Compiled only, so the benchmark keeps building (build.ps1 bench runs it).
        send_cpu  = Join-Path $repo 'bench/send-cpu.c'
    }
    $exe = @{}
    foreach ($program in $programs.Keys) {
        $exe[$program] = Join-Path $work $program
        $source = $programs[$program]
        Step "compile $([System.IO.Path]::GetRelativePath($repo, $source))" {
            Invoke-Native $compiler.Command (& $compiler.CompileArguments $source $exe[$program] $include $library)
        }
    }

    # Every run of a C program keeps its stdout and stderr in $outputs/LABEL.out and LABEL.err.
    $outputs = Join-Path $work 'output'
    New-Item -ItemType Directory -Path $outputs | Out-Null
    $labels = 'smoke', 'test_abi', 'send_mail', 'send_mail.wrong-secret', 'send_mail.gmail', 'smoke.valgrind', 'test_abi.valgrind', 'send_mail.valgrind'
    function Invoke-Program([string] $Label, [string[]] $CommandLine) {
        $arguments = @($CommandLine | Select-Object -Skip 1)
        Invoke-NativeCapture $CommandLine[0] $arguments -OutputPath (Join-Path $outputs $Label)
    }
    function Test-Succeeded($Run) {
        if ($Run.ExitCode -ne 0) { Write-Host "exit code $($Run.ExitCode)" -ForegroundColor Red; return $false }
        $true
    }
    # test_abi: all checks pass, there are $TestAbiChecks of them, and the wrong-secret error
    # document was printed (so the leak check reads real errors).
    function Test-AbiRun($Run) {
        $ok = Test-Succeeded $Run
        $ran = [regex]::Match($Run.StandardOutput, '(?m)^checks run: ([0-9]+)\r?$')
        if (-not $ran.Success -or [int]$ran.Groups[1].Value -ne $TestAbiChecks) {
            $count = if ($ran.Success) { $ran.Groups[1].Value } else { 'an unknown number of' }
            Write-Host "test_abi ran $count checks, expected $TestAbiChecks (a block removed or skipped?)" -ForegroundColor Red
            $ok = $false
        }
        if ($Run.StandardOutput -notmatch '(?m)^ *last error: \{.*AADSTS7000215') {
            Write-Host 'test_abi did not print the wrong-secret error document (AADSTS7000215)' -ForegroundColor Red
            $ok = $false
        }
        $ok
    }
    # What the emulator holds now: message ids, Google token counts, counters (Test-GmailRun compares).
    function Get-EmulatorState {
        [pscustomobject]@{
            Ids      = @(@(Invoke-PmpEmulatorControl $emulator 'messages') | ForEach-Object id)
            Tokens   = @(Invoke-PmpEmulatorControl $emulator 'google/tokens')
            Counters = Invoke-PmpEmulatorControl $emulator 'counters'
        }
    }
    function Get-TokensIssued($State, [string] $Subject) {
        $issued = 0
        foreach ($entry in $State.Tokens) { if ($entry.serviceAccount -eq $googleAccount -and $entry.subject -eq $Subject) { $issued += $entry.issued } }
        $issued
    }
    # What test_abi's Google section left in the emulator since $Before: each message once and
    # byte-exact, the dropped one recorded once (a resend would be a second record), nothing for
    # the undelegated user, and one token per user for the concurrent sends.
    function Test-GmailRun($Before) {
        $after = Get-EmulatorState
        $new = @(@(Invoke-PmpEmulatorControl $emulator 'messages') | Where-Object { $_.id -notin $Before.Ids -and $_.PSObject.Properties['provider'] -and $_.provider -eq 'gmail' })
        $failures = [System.Collections.Generic.List[string]]::new()
        function Expect([bool] $Condition, [string] $What) { if (-not $Condition) { $failures.Add($What) } }
        $bySubject = { param([string] $Subject) @($new | Where-Object subject -CEQ $Subject) }
        Expect ((& $bySubject 'C Gmail throttled').Count -eq 1) 'the throttled message was recorded once'
        Expect ((& $bySubject 'C Gmail dropped').Count -eq 1) 'the message whose answer was lost was recorded once (not resent)'
        Expect ($after.Counters.droppedAfterAccept - $Before.Counters.droppedAfterAccept -eq 1) 'one connection dropped after accept'
        Expect (@($new | Where-Object mailbox -EQ 'alerts@nodwd.example').Count -eq 0) 'nothing sent as the undelegated user'
        Expect ((Get-TokensIssued $after 'alerts@nodwd.example') -eq 0) 'no token for the undelegated user'
        $nonAscii = & $bySubject 'C Gmail Größe – 漢字 ✓'
        Expect ($nonAscii.Count -eq 1) 'the non-ASCII message arrived once with its subject intact'
        if ($nonAscii.Count -eq 1) {
            $m = $nonAscii[0]
            Expect ($m.from.name -ceq 'Jörg Müller' -and $m.to[0].name -ceq 'Ann Ärger' -and $m.body -cmatch 'Grüße aus C ✓') 'non-ASCII names and body'
            # SHA-256 of test_abi.c's payload[] (as for 'C buffers').
            Expect (@($m.attachments).Count -eq 1 -and $m.attachments[0].name -ceq 'bericht ä.bin' -and $m.attachments[0].size -eq 8 -and
                $m.attachments[0].sha256 -eq '1fb50c9b6be17d67381c01e93bc91cc60d4d4820a9a253de13899bdab764dea3') 'the small attachment, its non-ASCII name and bytes'
        }
        $large = & $bySubject 'C Gmail large'
        Expect ($large.Count -eq 1) 'the large message arrived once'
        if ($large.Count -eq 1) {
            Expect ($large[0].via -eq 'gmail:resumable') "the large message went through the resumable upload (via $($large[0].via))"
            Expect (@($large[0].attachments).Count -eq 1 -and $large[0].attachments[0].name -ceq 'groß.bin' -and
                $large[0].attachments[0].size -eq (Get-Item -LiteralPath $largeFile).Length -and
                $large[0].attachments[0].sha256 -eq $largeSha256) 'the large attachment, byte for byte'
        }
        foreach ($i in 0..7) {
            $user = if ($i % 2 -eq 0) { 'c-ann@example.com' } else { 'c-bob@example.com' }
            $sent = & $bySubject "C Gmail concurrent $i"
            Expect ($sent.Count -eq 1 -and $sent[0].mailbox -eq $user) "concurrent message $i arrived once as $user"
        }
        foreach ($user in 'c-ann@example.com', 'c-bob@example.com') {
            $issued = (Get-TokensIssued $after $user) - (Get-TokensIssued $Before $user)
            Expect ($issued -eq 1) "one token for $user under 8 concurrent sends (issued: $issued)"
        }
        Write-Host "Gmail messages from this test_abi run: $($new.Count) ($(@($new | Group-Object via | ForEach-Object { "$($_.Count) $($_.Name)" }) -join ', '))"
        foreach ($failure in $failures) { Write-Host "Gmail: expected $failure" -ForegroundColor Red }
        $new.Count -eq 12 -and $failures.Count -eq 0
    }
    # One test_abi run with the Google section's fault plan in place, then its Gmail records checked.
    function Invoke-TestAbi([string] $Label, [string[]] $Prefix) {
        $before = Get-EmulatorState
        Invoke-PmpEmulatorControl $emulator 'faults' -Method PUT -Body $gmailFaults | Out-Null
        try { $run = Invoke-Program $Label ($Prefix + @($exe.test_abi, $config, $mailbox, $emulator.CaPath, $googleAbiConfig, $largeFile)) }
        finally { Invoke-PmpEmulatorControl $emulator 'faults' -Method DELETE | Out-Null }
        $abi = Test-AbiRun $run
        $gmail = Test-GmailRun $before
        $abi -and $gmail
    }
    $sendArguments = { param([string] $ConfigPath, [string] $Subject) @($ConfigPath, $mailbox, 'ops@contoso.com', $Subject) }
    # Runtime worker threads live until exit: their memory is "possibly lost", not "definitely".
    $valgrind = @('valgrind', '--leak-check=full', '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite', '--error-exitcode=1', '--quiet')

    Step 'smoke' { Test-Succeeded (Invoke-Program 'smoke' @($exe.smoke)) }
    Step 'test_abi' { Invoke-TestAbi 'test_abi' @() }
    Step 'send_mail example' { Test-Succeeded (Invoke-Program 'send_mail' (@($exe.send_mail) + (& $sendArguments $config 'C example'))) }
    Step 'send_mail example with a wrong secret fails' {
        $run = Invoke-Program 'send_mail.wrong-secret' (@($exe.send_mail) + (& $sendArguments $wrongConfig 'C example (wrong secret)'))
        if ($run.ExitCode -eq 0) { Write-Host 'send_mail succeeded with a wrong secret' -ForegroundColor Red; return $false }
        if (-not ($run.StandardOutput + $run.StandardError).Contains('AADSTS7000215')) {
            Write-Host "send_mail did not show Entra's error AADSTS7000215" -ForegroundColor Red
            return $false
        }
        $true
    }
    Step 'send_mail example through Gmail (a googleWorkspace config, nothing else changed)' {
        $run = Invoke-Program 'send_mail.gmail' @($exe.send_mail, $googleConfig, $googleUser, 'ops@example.net', 'C example (Gmail)')
        if (-not (Test-Succeeded $run)) { return $false }
        $gmail = @(@(Invoke-PmpEmulatorControl $emulator 'messages') | Where-Object { $_.subject -eq 'C example (Gmail)' })
        Write-Host "Gmail messages from the C example: $($gmail.Count) (via $($gmail.via -join ', '))"
        $gmail.Count -eq 1 -and $gmail[0].provider -eq 'gmail' -and $gmail[0].mailbox -eq $googleUser
    }
    Step 'smoke under valgrind' { Test-Succeeded (Invoke-Program 'smoke.valgrind' ($valgrind + $exe.smoke)) }
    Step 'test_abi under valgrind' { Invoke-TestAbi 'test_abi.valgrind' $valgrind }
    Step 'send_mail under valgrind' {
        Test-Succeeded (Invoke-Program 'send_mail.valgrind' ($valgrind + $exe.send_mail + (& $sendArguments $config 'C example (valgrind)')))
    }

    Step 'emulator recorded exactly 41 messages' {
        # Over HTTPS trusting only the emulator's CA (Invoke-PmpEmulatorControl).
        $messages = @(Invoke-PmpEmulatorControl $emulator 'messages')
        $counters = Invoke-PmpEmulatorControl $emulator 'counters'
        $viaCount = @($messages | Where-Object { $_.PSObject.Properties['via'] -and $_.via }).Count
        Write-Host "messages recorded: $($messages.Count) ($viaCount with 'via'); counters: $($counters | ConvertTo-Json -Compress)"
        # Through Graph, test_abi sends 3 alone (pmp_send_mail, pmp_send_mail_with_buffers with
        # and without buffers), 2 in a batch and 2 in a batch with buffers, send_mail 1, each run
        # twice (native + valgrind). Through Gmail, test_abi's Google section 12 (throttled,
        # dropped after accept, non-ASCII, large, 8 concurrent) per run, and send_mail 1. Nothing
        # else sends.
        $gmail = @($messages | Where-Object { $_.PSObject.Properties['provider'] -and $_.provider -eq 'gmail' }).Count
        Write-Host "Graph: $($messages.Count - $gmail), Gmail: $gmail"
        $messages.Count -eq 41 -and $gmail -eq 25 -and $viaCount -eq 41 -and $counters.messagesAccepted -eq 41
    }

    Step 'the buffers test_abi passed arrived byte for byte' {
        # SHA-256 of test_abi.c's payload[] (8 bytes: 00 ff 'p' 'm' 'p' '\n' 80 7f).
        $expected = '1fb50c9b6be17d67381c01e93bc91cc60d4d4820a9a253de13899bdab764dea3'
        $sent = @(@(Invoke-PmpEmulatorControl $emulator 'messages') | Where-Object { $_.subject -eq 'C buffers' })
        $exact = @($sent | Where-Object { @($_.attachments).Count -eq 1 -and $_.attachments[0].name -eq 'payload.bin' -and
                $_.attachments[0].size -eq 8 -and $_.attachments[0].sha256 -eq $expected })
        Write-Host "'C buffers' messages: $($sent.Count), with the exact payload: $($exact.Count)"
        # The batch's two messages share that buffer.
        $batch = @(@(Invoke-PmpEmulatorControl $emulator 'messages') | Where-Object { $_.subject -like 'C batch buffers *' })
        $batchExact = @($batch | Where-Object { @($_.attachments).Count -eq 1 -and $_.attachments[0].name -eq 'batch-payload.bin' -and
                $_.attachments[0].size -eq 8 -and $_.attachments[0].sha256 -eq $expected })
        Write-Host "'C batch buffers' messages: $($batch.Count), with the exact payload: $($batchExact.Count)"
        $sent.Count -eq 2 -and $exact.Count -eq 2 -and $batch.Count -eq 4 -and $batchExact.Count -eq 4
    }

    Step "no secret, private key or access token in the C programs' output" {
        $ok = $true
        foreach ($label in $labels) {
            $out = Join-Path $outputs "$label.out"
            $err = Join-Path $outputs "$label.err"
            if (-not (Test-Path -LiteralPath $out) -or (Get-Item -LiteralPath $out).Length -eq 0 -or -not (Test-Path -LiteralPath $err)) {
                Write-Host "no output captured from $label" -ForegroundColor Red
                $ok = $false
            }
            foreach ($file in $out, $err) {
                if (-not (Test-Path -LiteralPath $file)) { continue }
                $hits = @(Select-String -LiteralPath $file -SimpleMatch -CaseSensitive -Pattern $secret, 'eyJ', $googleKeyLine, 'PRIVATE KEY', 'ya29.')
                if ($hits) {
                    Write-Host "$label leaked the client secret or an access token ($([System.IO.Path]::GetExtension($file).TrimStart('.'))):" -ForegroundColor Red
                    foreach ($hit in $hits) {
                        $line = "$($hit.LineNumber): $($hit.Line.Replace($secret, '<SECRET>'))"
                        Write-Host $line.Substring(0, [Math]::Min(300, $line.Length)) -ForegroundColor Red
                    }
                    $ok = $false
                }
            }
        }
        $ok
    }
}
finally {
    Stop-PmpEmulator $emulator
    Show-PmpEmulatorLog $checks $emulator
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
Complete-PmpCheckRun $checks 'C suite'
