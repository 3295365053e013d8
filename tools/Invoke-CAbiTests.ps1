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
    the emulator's control API (over TLS validated against its CA) shows exactly 12 messages, and
    the ones test_abi sent through pmp_send_mail_with_buffers carry its buffer byte for byte.
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
$TestAbiChecks = 83

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
users = [{ address = "$googleUser" }]
delegations = [{ clientId = "$googleClientId", scopes = ["https://www.googleapis.com/auth/gmail.send"] }]
"@ | Set-Content -LiteralPath (Join-Path $work 'directory.toml') -Encoding utf8NoBOM

    $emulator = Start-PmpEmulator -CargoProfile $CargoProfile -Strict -ConfigPath (Join-Path $work 'directory.toml') `
        -StateDir (Join-Path $work 'state') -StandardErrorPath (Join-Path $work 'emulator.err')

    # Compact JSON: test_abi.c finds "auth":{...} and "secret":"..." in the text.
    function New-ClientConfig([string] $Secret) {
        [ordered]@{
            tenant        = 'contoso.onmicrosoft.com'
            clientId      = $clientId
            auth          = [ordered]@{ type = 'clientSecret'; secret = $Secret }
            authorityHost = $emulator.BaseUrl
            graphRoot     = $emulator.BaseUrl
            http          = [ordered]@{ extraCaCertificatesPem = (Get-Content -LiteralPath $emulator.CaPath -Raw); useSystemProxy = $false; timeoutSeconds = 60 }
            retry         = [ordered]@{ maxAttempts = 3; maxTotalWaitSeconds = 30 }
        } | ConvertTo-Json -Compress -Depth 5
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

    $include = Join-Path $repo 'include'
    $programs = [ordered]@{
        smoke     = Join-Path $repo 'tests/c/smoke.c'
        test_abi  = Join-Path $repo 'tests/c/test_abi.c'
        send_mail = Join-Path $repo 'examples/c/send_mail.c'
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
    $sendArguments = { param([string] $ConfigPath, [string] $Subject) @($ConfigPath, $mailbox, 'ops@contoso.com', $Subject) }
    # Runtime worker threads live until exit: their memory is "possibly lost", not "definitely".
    $valgrind = @('valgrind', '--leak-check=full', '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite', '--error-exitcode=1', '--quiet')

    Step 'smoke' { Test-Succeeded (Invoke-Program 'smoke' @($exe.smoke)) }
    Step 'test_abi' { Test-AbiRun (Invoke-Program 'test_abi' @($exe.test_abi, $config, $mailbox, $emulator.CaPath)) }
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
    Step 'test_abi under valgrind' { Test-AbiRun (Invoke-Program 'test_abi.valgrind' ($valgrind + @($exe.test_abi, $config, $mailbox, $emulator.CaPath))) }
    Step 'send_mail under valgrind' {
        Test-Succeeded (Invoke-Program 'send_mail.valgrind' ($valgrind + $exe.send_mail + (& $sendArguments $config 'C example (valgrind)')))
    }

    Step 'emulator recorded exactly 17 messages' {
        # Over HTTPS trusting only the emulator's CA (Invoke-PmpEmulatorControl).
        $messages = @(Invoke-PmpEmulatorControl $emulator 'messages')
        $counters = Invoke-PmpEmulatorControl $emulator 'counters'
        $viaCount = @($messages | Where-Object { $_.PSObject.Properties['via'] -and $_.via }).Count
        Write-Host "messages recorded: $($messages.Count) ($viaCount with 'via'); counters: $($counters | ConvertTo-Json -Compress)"
        # test_abi sends 3 alone (pmp_send_mail, pmp_send_mail_with_buffers with and without
        # buffers), 2 in a batch and 2 in a batch with buffers, send_mail 1, each run twice
        # (native + valgrind), and send_mail 1 through Gmail; nothing else sends.
        $messages.Count -eq 17 -and $viaCount -eq 17 -and $counters.messagesAccepted -eq 17
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
