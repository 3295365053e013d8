#!/usr/bin/env pwsh
<#
.SYNOPSIS
    One entry point for building, testing, demonstrating and benchmarking pmp-mail.

.DESCRIPTION
    Run it through the pinned PowerShell tool so the only prerequisites are Rust and the .NET SDK
    (plus a C compiler and valgrind for the C suite):

        dotnet tool restore && dotnet pwsh ./build.ps1 <task>

    Tasks:
      build   cargo build --workspace --all-targets (library, emulator, tests, examples) and the
              PowerShell module into dist/PmpMail
      test    the build, then every suite with a pass/fail summary:
                rust-lint          cargo fmt --check, clippy -D warnings
                rust-tests         cargo test --workspace (incl. the generated header and schemas)
                c-abi              C programs against include/pmp_mail.h, natively and under valgrind
                csharp-interop     xunit: dotnet/PmpMail.Interop.Tests
                powershell-module  Pester: powershell/tests
                demo               the demo task, as a user runs it, and what arrived
                inbox-browser      the emulator's inbox page in headless Chromium over WebDriver: mail sent
                                   by the module, live list, sandboxed HTML, downloads, search, delete
                                   (Linux: installs Debian's chromium + chromium-driver when missing;
                                   elsewhere an installed Chrome/Edge with its driver, else n/a)
                examples           examples/csharp/SendMail and examples/powershell/Send-Report.ps1
                emulator-fidelity  MSAL.NET, Azure.Identity and the Graph .NET SDK against the emulator
                dotnet-format      dotnet format --verify-no-changes
                workflows          .github/workflows linted (actionlint) and kept thin
                package            the package task below (one release build)
                install-module     artifacts/PmpMail.<v>.nupkg: Install-PSResource, Import-Module by name,
                                   send through the emulator; the installed module's import time
                install-interop    artifacts/PmpMail.Interop.<v>.nupkg: contents; a new `dotnet new console`
                                   app that references it sends through the emulator
                install-netfx      the same package in a net48 app under Mono (Windows: .NET Framework)
                install-csdk       artifacts/pmp-mail-<v>-<rid>.tar.gz: pkg-config and CMake builds
                module-desktop     Windows only: powershell.exe (5.1) imports the installed module and sends
              -Suite c-abi,examples runs only those (after the build they need). A suite that cannot
              run on this OS reports n/a.
      native  the release native library of one runtime (-Runtime win-x64, linux-arm64, ...; default
              this machine's), staged in target/native/<rid>/ for the package task
      package the release packages into artifacts/: PmpMail.<v>.nupkg (PowerShell Gallery),
              PmpMail.Interop.<v>.nupkg + .snupkg (NuGet), pmp-mail-<v>-<rid>.tar.gz (C SDK),
              SHA256SUMS. Takes the staged libraries of $env:PMP_NATIVE_DIR (CI: all six runtimes),
              else builds this machine's. $env:PMP_RELEASE_TAG (v<version>) makes it a release.
      demo    start the emulator sandbox, run Test-PmpMailPermission and Send-PmpMail, show what arrived;
              ends with the inbox page's URL (in a terminal the emulator stays up until Enter)
      screenshot  docs/images/inbox.png, the README's picture of the inbox page (headless Chromium)
      bench   benchmarks that print numbers: client creation (bench/client-create-bench.rs), unknown
              outcomes per dropped connection under 16 concurrent sends (bench/send-fault-soak.rs), CPU
              per sequential send through the C ABI (bench/send-cpu.c; not on Windows), send
              throughput/latency vs the Graph .NET SDK (bench/PmpMail.Bench), the module's import
              time/size/memory (powershell/bench/Measure-PmpMail.ps1), bulk sending (1,000 mails to 10
              mailboxes with Graph latency and its per-mailbox limit). PMP_BENCH_PROFILE=release for
              optimized native code; further arguments go to PmpMail.Bench (`bench --seq 200`).
      mutants applies the deliberate bugs in tests/mutants/mutants.json one at a time to a scratch
              copy and runs the Rust suites against each: prints caught / survived (slow: ~1 min
              per mutant; not part of `test`). -Mutant M7b,M11 picks some.

    Generated files (include/pmp_mail.h, docs/schema/*.json) are checked by the rust-tests suite;
    rewrite them with: PMP_UPDATE_GENERATED=1 cargo test -p pmp-mail --test it generated
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'native', 'package', 'demo', 'screenshot', 'bench', 'mutants')]
    [string] $Task = 'build',

    # For the test task: run only these suites (the build runs first when one of them needs it).
    # Commas work from -File too (`-Suite c-abi,examples` arrives there as one string).
    [string[]] $Suite = @(),

    # For the demo and screenshot tasks: use what the last build made (the test task's demo suite passes it).
    [switch] $NoBuild,

    # For the demo task: stop the emulator at the end instead of waiting for Enter in a terminal.
    [switch] $NoWait,

    # For the mutants task: the ids to run (default: all).
    [string[]] $Mutant = @(),

    # For the native task: the runtime identifier to build for (default: this machine's).
    [string] $Runtime,

    # For the bench task: the remaining arguments go to PmpMail.Bench, e.g. `bench --seq 200 --sides pmp`.
    [Parameter(ValueFromRemainingArguments)]
    [string[]] $BenchArguments = @()
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
Set-Location $Root
if ($BenchArguments -and $Task -ne 'bench') { throw "Unknown arguments for the $Task task: $($BenchArguments -join ' ')" }
Import-Module (Join-Path $Root 'tools' 'PmpBuild.psm1') -Force
Import-Module (Join-Path $Root 'tools' 'PmpBrowser.psm1') -Force

function Install-SystemPrerequisite {
    # The C suite runs under valgrind; a fresh Debian/Ubuntu machine may not have it.
    param([string] $Command, [string] $Package)
    if (Get-Command $Command -CommandType Application -ErrorAction SilentlyContinue) { return }
    if (-not $IsLinux -or -not (Get-Command apt-get -CommandType Application -ErrorAction SilentlyContinue)) {
        throw "$Command is missing: install the package '$Package'"
    }
    Write-Host "Installing $Package (needed for $Command)" -ForegroundColor Yellow
    if ((id -u) -ne '0') { throw "$Command is missing: install the Debian package '$Package'" }
    & apt-get install -y -qq $Package *> $null
    if ($LASTEXITCODE -ne 0) {
        & apt-get update -qq *> $null
        Invoke-Native apt-get @('install', '-y', '-qq', $Package)
    }
}

function Use-Environment {
    # Runs $Body with environment variables set, and puts the previous values back afterwards.
    param([Parameter(Mandatory)][hashtable] $Variables, [Parameter(Mandatory)][scriptblock] $Body)
    $saved = @{}
    foreach ($name in $Variables.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $Variables[$name])
    }
    try { & $Body }
    finally {
        # [NullString]: PowerShell would pass `$null as "", leaving the variable set and empty.
        foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, ($null -eq $saved[$name] ? [NullString]::Value : $saved[$name])) }
    }
}

function Build-Module {
    # Assembles dist/PmpMail (manifest, assemblies, help, native library) from a native build.
    param([string] $CargoProfile = 'debug')
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-File', (Join-Path $Root 'powershell/build.ps1'), '-NativeProfile', $CargoProfile)
}

function Invoke-BuildAll {
    # The one build the suites, the demo and the debug benchmarks share: all targets at once. A
    # narrower `cargo build -p ...` resolves other features (no dev-dependencies) and builds ~80
    # crates again, replacing target/debug/libpmp_mail.so.
    Invoke-Native cargo @('build', '--workspace', '--all-targets')
    Build-Module
}

$script:Results = [System.Collections.Generic.List[object]]::new()

function Invoke-Suite {
    # Runs one named suite, times it and records passed / FAILED / skipped (when a suite it needs failed).
    param(
        [Parameter(Mandatory)][string] $Name,
        [Parameter(Mandatory)][string] $What,
        [Parameter(Mandatory)][scriptblock] $Body,
        [string[]] $Needs = @(),
        # $false on an OS where the suite has nothing to run: reported n/a, not failed.
        [bool] $Applicable = $true,
        # Why it is n/a, when not just the OS.
        [string] $NotApplicableReason = 'on this OS'
    )
    if (-not $Applicable) {
        Write-Host "`n=== $($Name): n/a $NotApplicableReason ===" -ForegroundColor DarkGray
        $script:Results.Add([pscustomobject]@{ Suite = $Name; Result = 'n/a'; Seconds = 0; What = $What })
        return
    }
    $blocked = @($Needs | Where-Object { $n = $_; $script:Results | Where-Object { $_.Suite -eq $n -and $_.Result -ne 'passed' } })
    if ($blocked) {
        Write-Host "`n=== $($Name): skipped ($($blocked -join ', ') failed) ===" -ForegroundColor Yellow
        $script:Results.Add([pscustomobject]@{ Suite = $Name; Result = 'SKIPPED'; Seconds = 0; What = $What })
        return
    }
    Write-Host "`n=== $Name ($What) ===" -ForegroundColor Cyan
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        & $Body
        $script:Results.Add([pscustomobject]@{ Suite = $Name; Result = 'passed'; Seconds = [int]$watch.Elapsed.TotalSeconds; What = $What })
    }
    catch {
        $script:Results.Add([pscustomobject]@{ Suite = $Name; Result = 'FAILED'; Seconds = [int]$watch.Elapsed.TotalSeconds; What = $What })
        Write-Host "Suite '$Name' failed: $_" -ForegroundColor Red
    }
}

function Write-Summary {
    param([System.Diagnostics.Stopwatch] $Total)
    Write-Host ''
    $script:Results | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
    $passed = @($script:Results | Where-Object Result -EQ 'passed').Count
    $notApplicable = @($script:Results | Where-Object Result -EQ 'n/a').Count
    $failed = @($script:Results | Where-Object Result -NotIn 'passed', 'n/a').Count
    Write-Host "suites: $passed passed, $failed failed or skipped, $notApplicable n/a; $([int]$Total.Elapsed.TotalSeconds) s in all"
    if ($failed -gt 0) { exit 1 }
}

$SuiteNames = 'rust-lint', 'rust-tests', 'c-abi', 'csharp-interop', 'powershell-module', 'demo', 'inbox-browser', 'examples',
    'emulator-fidelity', 'dotnet-format', 'workflows', 'package', 'install-module', 'install-interop', 'install-netfx',
    'install-csdk', 'module-desktop'

function Split-List([string[]] $Items) {
    # -File passes `a,b` as one string; -Command passes an array: both become the list.
    @($Items | ForEach-Object { $_ -split ',' } | ForEach-Object Trim | Where-Object { $_ })
}

function Invoke-Test {
    param([string[]] $Only)
    $Only = Split-List $Only
    $unknown = @($Only | Where-Object { $_ -notin $SuiteNames })
    if ($unknown) { throw "Unknown suite '$($unknown -join "', '")'; the suites are: $($SuiteNames -join ', ')" }
    $total = [System.Diagnostics.Stopwatch]::StartNew()
    $wanted = { param($name) -not $Only -or $Only -contains $name }
    # Every suite but these runs something the build made (the install tests: the emulator).
    if (@($Only | Where-Object { $_ -notin 'rust-lint', 'dotnet-format', 'workflows', 'package' }).Count -gt 0 -or -not $Only) {
        Invoke-Suite 'build' 'cargo build --workspace --all-targets; dist/PmpMail' { Invoke-BuildAll }
    }
    if (& $wanted 'rust-lint') {
        Invoke-Suite 'rust-lint' 'cargo fmt --check; clippy -D warnings' {
            Invoke-Native cargo @('fmt', '--all', '--check')
            Invoke-Native cargo @('clippy', '--workspace', '--all-targets', '--', '-D', 'warnings')
        }
    }
    if (& $wanted 'rust-tests') {
        Invoke-Suite 'rust-tests' 'cargo test --workspace' -Needs build {
            Invoke-Native cargo @('test', '--workspace')
        }
    }
    if (& $wanted 'c-abi') {
        Invoke-Suite 'c-abi' 'C + valgrind against include/pmp_mail.h' -Needs build {
            Install-SystemPrerequisite -Command valgrind -Package valgrind
            & (Join-Path $Root 'tools/Invoke-CAbiTests.ps1')
        }
    }
    if (& $wanted 'csharp-interop') {
        Invoke-Suite 'csharp-interop' 'xunit: PmpMail.Interop.Tests' -Needs build {
            Invoke-Native dotnet @('test', 'dotnet/PmpMail.Interop.Tests/PmpMail.Interop.Tests.csproj')
        }
    }
    if (& $wanted 'powershell-module') {
        Invoke-Suite 'powershell-module' 'Pester' -Needs build {
            Invoke-Native dotnet @('pwsh', '-NoProfile', '-File', 'powershell/tests/Invoke-PesterTests.ps1', '-Output', 'Normal')
        }
    }
    if (& $wanted 'demo') {
        Invoke-Suite 'demo' 'README command, what arrived' -Needs build {
            # The demo must keep working: run it as a user would (on this build) and check what arrived.
            $demo = Invoke-NativeCapture dotnet @('pwsh', '-NoProfile', '-File', (Join-Path $Root 'build.ps1'), 'demo', '-NoBuild', '-NoWait')
            if ($demo.ExitCode -ne 0) { throw "the demo failed (exit code $($demo.ExitCode))" }
            $last = ($demo.StandardOutput -replace '\e\[[0-9;]*m', '').Trim() -split '\r?\n' | Select-Object -Last 1
            if ($last -notmatch '^Inbox: https://127\.0\.0\.1:\d+/_emulator/') { throw "the demo's last line is not the inbox URL: $last" }
            $arrived = @(Get-ChildItem (Join-Path $Root '.state/demo/messages') -Filter '*.json' |
                    ForEach-Object { (Get-Content $_.FullName -Raw | ConvertFrom-Json).subject } | Sort-Object)
            $expected = @('Inventory export', 'Patch report: 2 updates published ✓')
            if (Compare-Object $arrived $expected) { throw "demo: expected messages '$($expected -join "', '")', got '$($arrived -join "', '")'" }
        }
    }
    if (& $wanted 'inbox-browser') {
        # Linux installs Debian's chromium when missing (Install-PmpBrowser); elsewhere the suite
        # needs an installed Chrome or Edge with its driver on PATH.
        Invoke-Suite 'inbox-browser' 'the inbox page in headless Chromium (WebDriver)' -Needs build `
            -Applicable ($IsLinux -or [bool](Find-PmpBrowser)) -NotApplicableReason 'here: no Chrome or Edge with chromedriver / msedgedriver on PATH' {
            & (Join-Path $Root 'tools/Test-InboxBrowser.ps1')
        }
    }
    if (& $wanted 'examples') {
        Invoke-Suite 'examples' 'C# SendMail, Send-Report.ps1' -Needs build {
            & (Join-Path $Root 'tools/Invoke-ExampleTests.ps1')
        }
    }
    if (& $wanted 'emulator-fidelity') {
        Invoke-Suite 'emulator-fidelity' 'MSAL.NET, Azure.Identity, Graph .NET SDK' -Needs build {
            Invoke-Fidelity
        }
    }
    if (& $wanted 'dotnet-format') {
        Invoke-Suite 'dotnet-format' 'dotnet format --verify-no-changes' {
            Invoke-Native dotnet @('format', 'pmp-mail.sln', '--verify-no-changes')
        }
    }
    if (& $wanted 'workflows') {
        Invoke-Suite 'workflows' 'actionlint; thin workflow steps' {
            & (Join-Path $Root 'tools/Test-Workflows.ps1')
        }
    }
    # The install suites use artifacts/: made just now when the package suite runs, else as found
    # (CI's install job downloads them).
    if (& $wanted 'package') {
        Invoke-Suite 'package' 'release build; artifacts/' { Invoke-Package }
    }
    if (& $wanted 'install-module') {
        Invoke-Suite 'install-module' 'Install-PSResource PmpMail; import; send' -Needs build, package {
            & (Join-Path $Root 'tools/Test-ModulePackage.ps1')
        }
    }
    if (& $wanted 'install-interop') {
        Invoke-Suite 'install-interop' 'PmpMail.Interop: contents, dotnet new console' -Needs build, package {
            & (Join-Path $Root 'tools/Test-InteropPackage.ps1') -Part contents, nuget
        }
    }
    if (& $wanted 'install-netfx') {
        Invoke-Suite 'install-netfx' 'PmpMail.Interop in a net48 app (Mono)' -Needs build, package -Applicable (-not $IsMacOS) {
            & (Join-Path $Root 'tools/Test-InteropPackage.ps1') -Part netfx
        }
    }
    if (& $wanted 'install-csdk') {
        Invoke-Suite 'install-csdk' 'C SDK: pkg-config, CMake' -Needs build, package {
            & (Join-Path $Root 'tools/Test-CSdkPackage.ps1')
        }
    }
    if (& $wanted 'module-desktop') {
        Invoke-Suite 'module-desktop' 'powershell.exe 5.1: installed module' -Needs build, package -Applicable ([bool]$IsWindows) {
            & (Join-Path $Root 'tools/Test-ModulePackage.ps1') -Edition Desktop
        }
    }
    Write-Summary -Total $total
}

function Invoke-Package {
    # One release build (this machine's runtime, unless PMP_NATIVE_DIR holds staged ones), then every package.
    & (Join-Path $Root 'tools/Build-Packages.ps1')
}

function Invoke-Fidelity {
    # Microsoft's own clients (MSAL.NET, Graph .NET SDK) against the emulator the build made.
    $emulator = Get-PmpEmulatorPath -IgnoreEnvironment
    if (-not (Test-Path -LiteralPath $emulator)) { throw "$emulator was not built" }
    Use-Environment @{ PMP_EMULATOR_BIN = $emulator } {
        Invoke-Native dotnet @('test', (Join-Path $Root 'emulator/fidelity/PmpGraphEmulator.Fidelity.Tests/PmpGraphEmulator.Fidelity.Tests.csproj'))
    }
}

function Invoke-Demo {
    param([switch] $NoBuild)
    if (-not $NoBuild) { Invoke-BuildAll }
    $state = Join-Path $Root '.state/demo'
    if (Test-Path $state) { Remove-Item -Recurse -Force $state }
    $emulator = Start-PmpEmulator -Demo -StateDir $state
    try {
        Write-Host "Emulator sandbox at $($emulator.BaseUrl) (inbox page: $($emulator.BaseUrl)/_emulator/)" -ForegroundColor Cyan
        Import-Module (Join-Path $Root 'dist/PmpMail/PmpMail.psd1') -Force
        # The demo tenant's app registration, as you would fill it in for a real tenant
        # (drop the three endpoint parameters there).
        $connection = @{
            TenantId      = 'contoso.onmicrosoft.com'
            ClientId      = '22222222-2222-2222-2222-222222222222'
            ClientSecret  = ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force
            AuthorityHost = $emulator.AuthorityHost
            GraphRoot     = $emulator.GraphRoot
            TrustedCaPath = $emulator.CaPath
        }
        Write-Host "`n> Test-PmpMailPermission" -ForegroundColor Yellow
        Test-PmpMailPermission @connection | Out-Host

        $report = Join-Path $state 'patch-report.csv'
        "Product,Version,Status`nContoso Agent,5.2.1,Published`nFabrikam Tool,2.0.0,Published" |
            Set-Content -Path $report -Encoding utf8
        Write-Host "`n> Send-PmpMail (HTML body, non-ASCII text, one attachment)" -ForegroundColor Yellow
        $result = Send-PmpMail @connection -From 'alerts@contoso.onmicrosoft.com' `
            -To 'Ops Team <ops@contoso.onmicrosoft.com>' -Cc 'Zoë Müller <zoe@contoso.onmicrosoft.com>' `
            -Subject 'Patch report: 2 updates published ✓' `
            -Body '<h1>Nightly publishing</h1><p>2 updates published — café, naïve, 東京.</p>' -BodyAsHtml `
            -Attachments $report -PassThru
        $result | Format-List | Out-Host

        $big = Join-Path $state 'inventory-export.bin'
        [System.IO.File]::WriteAllBytes($big, [byte[]]::new(4MB))
        Write-Host "`n> Send-PmpMail with a 4 MB attachment (draft + upload session)" -ForegroundColor Yellow
        Send-PmpMail @connection -From 'alerts@contoso.onmicrosoft.com' -To 'ops@contoso.onmicrosoft.com' `
            -Subject 'Inventory export' -Body 'Attached.' -Attachments $big -PassThru |
            Select-Object Status, Attempts, UploadSession, DurationMs | Format-List | Out-Host

        Write-Host "`n> What a wrong secret looks like (the secret ID pasted instead of its value)" -ForegroundColor Yellow
        $wrong = $connection.Clone()
        $wrong.ClientSecret = ConvertTo-SecureString '0a1b2c3d-secret-id-not-value' -AsPlainText -Force
        try { Test-PmpMailPermission @wrong -ErrorAction Stop }
        catch { Write-Host "$($_.FullyQualifiedErrorId)`n$($_.Exception.Message)" -ForegroundColor Red }

        Write-Host "`n> What the emulator received" -ForegroundColor Yellow
        Get-ChildItem (Join-Path $state 'messages') -Filter '*.json' | ForEach-Object {
            $m = Get-Content $_.FullName -Raw | ConvertFrom-Json
            [pscustomobject]@{
                Mailbox     = $m.mailbox
                To          = ($m.to | ForEach-Object { if ($_.name) { "$($_.name) <$($_.address)>" } else { $_.address } }) -join ', '
                Cc          = ($m.cc | ForEach-Object { if ($_.name) { "$($_.name) <$($_.address)>" } else { $_.address } }) -join ', '
                Subject     = $m.subject
                BodyType    = $m.bodyContentType
                Attachments = ($m.attachments | ForEach-Object { "$($_.name) ($($_.size) bytes)" }) -join ', '
                RequestId   = $m.requestId
            }
        } | Format-List | Out-Host
        Write-Host "The .eml files are in $(Join-Path $state 'messages')." -ForegroundColor Cyan
        # The last line: where to see all of it. In a terminal the emulator stays up for the page.
        $inbox = "$($emulator.BaseUrl)/_emulator/"
        if (-not $NoWait -and -not $env:CI -and -not [Console]::IsInputRedirected) {
            Write-Host "Inbox: $inbox  (open it in a browser; press Enter to stop the emulator)" -ForegroundColor Green
            $null = [Console]::ReadLine()
        }
        else {
            Write-Host "Inbox: $inbox  (served while the emulator runs; it stops now)" -ForegroundColor Green
        }
    }
    finally {
        Stop-PmpEmulator $emulator
    }
}

function Measure-SendCpu {
    # bench/send-cpu.c, compiled here and run against the emulator: one client, 5 rounds of 3,000
    # sequential pmp_send_mail, getrusage of the whole process. POSIX only (getrusage).
    param([string] $Emulator, $Library)
    if ($IsWindows) {
        Write-Host '    skipped on Windows: the program measures with getrusage (Linux, macOS)'
        return
    }
    $compiler = @($env:CC, 'gcc', 'cc') | Where-Object { $_ } |
        ForEach-Object { Get-Command $_ -CommandType Application -ErrorAction Ignore } | Select-Object -First 1
    if (-not $compiler) {
        Write-Host '    skipped: no C compiler (gcc or cc; $env:CC overrides)'
        return
    }
    $work = Join-Path ([System.IO.Path]::GetTempPath()) "pmp-send-cpu-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory -Path $work | Out-Null
    try {
        $program = Join-Path $work 'send-cpu'
        Invoke-Native $compiler.Source @('-O2', '-std=c11', "-I$(Join-Path $Root 'include')", (Join-Path $Root 'bench/send-cpu.c'),
            "-L$($Library.Directory)", "-l$($Library.Name)", "-Wl,-rpath,$($Library.Directory)", '-o', $program)
        # Graph's per-mailbox limits lifted: 15,000 sends in a minute pass its 10,000 per 10 minutes.
        $directory = Join-Path $work 'directory.toml'
        @'
[[tenants]]
id = "11111111-1111-1111-1111-111111111111"
domains = ["contoso.onmicrosoft.com"]
[[apps]]
tenant = "11111111-1111-1111-1111-111111111111"
clientId = "22222222-2222-2222-2222-222222222222"
roles = ["Mail.Send"]
secrets = [{ value = "send-cpu-secret" }]
[[mailboxes]]
tenant = "11111111-1111-1111-1111-111111111111"
address = "alerts@contoso.onmicrosoft.com"
exists = true
restEnabled = true
[throttling]
maxConcurrent = 256
maxRequests = 10000000
'@ | Set-Content -LiteralPath $directory -Encoding utf8NoBOM
        $server = Start-PmpEmulator -Path $Emulator -ConfigPath $directory -StateDir (Join-Path $work 'state') -StandardErrorPath (Join-Path $work 'emulator.err')
        try {
            $config = Join-Path $work 'config.json'
            $client = New-PmpEmulatorClientConfig -Emulator $server -Secret 'send-cpu-secret'
            # The client keeps to Graph's 10,000 per mailbox per 10 minutes itself (it queues the
            # rest); 15,050 sends in a minute need that budget raised.
            $client.sending = [ordered]@{ maxMessagesPerMailbox = 1000000 }
            $client | ConvertTo-Json -Compress -Depth 5 | Set-Content -LiteralPath $config -Encoding utf8NoBOM
            Invoke-Native $program @($config, 'alerts@contoso.onmicrosoft.com', '3000', '5')
        }
        finally {
            Stop-PmpEmulator $server
        }
    }
    finally {
        Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore
    }
}

function Invoke-Bench {
    # Prints numbers; asserts nothing about time. PMP_BENCH_PROFILE=release for release builds.
    param([string[]] $BenchArguments)
    $cargoProfile = if ($env:PMP_BENCH_PROFILE) { $env:PMP_BENCH_PROFILE } else { 'debug' }
    if ($cargoProfile -notin 'debug', 'release') { throw "PMP_BENCH_PROFILE must be debug or release (got '$cargoProfile')" }
    Write-Host "==> bench: cargo build, profile '$cargoProfile' (PMP_BENCH_PROFILE=release for optimized native code)" -ForegroundColor Cyan
    # One cargo invocation for everything the benchmarks run, so the library is built once: in debug
    # the shared build (what test and demo use); in release only the targets the benchmarks need.
    if ($cargoProfile -eq 'debug') {
        Invoke-Native cargo @('build', '--workspace', '--all-targets')
    }
    else {
        Invoke-Native cargo @('build', '--release', '-p', 'pmp-mail', '-p', 'pmp-graph-emulator', '--lib', '--bins', '--example', 'client-create-bench', '--example', 'send-fault-soak')
    }
    $native = (Get-PmpNativeLibrary -CargoProfile $cargoProfile).Path
    $emulator = Get-PmpEmulatorPath -CargoProfile $cargoProfile -IgnoreEnvironment
    foreach ($file in $native, $emulator) {
        if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { throw "$file was not built" }
    }

    Write-Host '==> bench: client creation (bench/client-create-bench.rs)' -ForegroundColor Cyan
    Invoke-Native (Join-Path (Get-PmpTargetDirectory) $cargoProfile 'examples' ($IsWindows ? 'client-create-bench.exe' : 'client-create-bench'))
    Write-Host '==> bench: dropped connections under 16 concurrent sends (bench/send-fault-soak.rs)' -ForegroundColor Cyan
    Invoke-Native (Join-Path (Get-PmpTargetDirectory) $cargoProfile 'examples' ($IsWindows ? 'send-fault-soak.exe' : 'send-fault-soak'))
    Write-Host '==> bench: CPU per sequential send through the C ABI (bench/send-cpu.c)' -ForegroundColor Cyan
    Measure-SendCpu -Emulator $emulator -Library (Get-PmpNativeLibrary -CargoProfile $cargoProfile)

    # Before PmpMail.Bench: its bulk scenario pipes into Send-PmpMail from this module.
    Write-Host "==> bench: the PowerShell module into dist/PmpMail (native profile '$cargoProfile')" -ForegroundColor Cyan
    Build-Module -CargoProfile $cargoProfile

    Write-Host '==> bench: building bench/PmpMail.Bench (Release)' -ForegroundColor Cyan
    $project = Join-Path $Root 'bench/PmpMail.Bench'
    Invoke-Native dotnet @('build', (Join-Path $project 'PmpMail.Bench.csproj'), '-c', 'Release', '-nologo', '-v', 'quiet')
    Write-Host '==> bench: pmp-mail vs Microsoft Graph SDK + MSAL.NET, then bulk sending' -ForegroundColor Cyan
    Use-Environment @{ PMP_EMULATOR_BIN = $emulator; PMP_MAIL_NATIVE_PATH = $native } {
        Invoke-Native dotnet (@((Join-Path $project 'bin/Release/net10.0/PmpMail.Bench.dll'),
                '--emulator', $emulator, '--native', $native, '--profile', $cargoProfile,
                '--module', (Join-Path $Root 'dist/PmpMail'), '--pwsh', (Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh'))) + $BenchArguments)
    }

    Write-Host '==> bench: powershell/bench/Measure-PmpMail.ps1' -ForegroundColor Cyan
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-File', (Join-Path $Root 'powershell/bench/Measure-PmpMail.ps1'), '-EmulatorExe', $emulator)
}

function Invoke-Mutants {
    # A scratch copy of the working tree (tracked and new files), its own target dir, one mutant
    # at a time. A mutant is caught when `cargo test -p pmp-mail` fails; one that does not
    # compile is reported as invalid, not caught.
    param([string[]] $Only)
    $Only = Split-List $Only
    $plan = Get-Content (Join-Path $Root 'tests/mutants/mutants.json') -Raw | ConvertFrom-Json
    $mutants = @($plan.mutants | Where-Object { -not $Only -or $Only -contains $_.id })
    if ($mutants.Count -eq 0) { throw "no mutant matches '$($Only -join ', ')'" }
    $work = Join-Path $Root 'target/mutants'
    # One tree per run, so two runs never edit each other's copy; the compiled dependencies in
    # target/mutants/target are shared.
    $scratch = Join-Path $work "tree-$PID"
    if (Test-Path $scratch) { Remove-Item -Recurse -Force $scratch }
    $files = (& git -C $Root ls-files -z --cached --others --exclude-standard) -split "`0" | Where-Object { $_ }
    foreach ($file in $files) {
        $from = Join-Path $Root $file
        if (-not (Test-Path $from -PathType Leaf)) { continue }
        $to = Join-Path $scratch $file
        New-Item -ItemType Directory -Force -Path (Split-Path $to) | Out-Null
        Copy-Item $from $to
        # Fresh mtimes: the shared target dir must not take a copy for an older, mutated build.
        [System.IO.File]::SetLastWriteTime($to, [datetime]::Now)
    }
    $env:CARGO_TARGET_DIR = Join-Path $work 'target'
    $manifest = Join-Path $scratch 'Cargo.toml'
    $logs = Join-Path $work "logs-$PID"
    New-Item -ItemType Directory -Force -Path $logs | Out-Null

    function Invoke-Cargo([string] $Log, [string[]] $Arguments) {
        & cargo @Arguments --manifest-path $manifest *> $Log
        return $LASTEXITCODE
    }
    function Get-FailedTests([string] $Log) {
        @(Select-String -Path $Log -Pattern '^test (\S+) \.\.\. FAILED', 'panicked at (\S+)', 'process didn''t exit successfully: .*?deps[/\\]([A-Za-z_]+)-' |
                ForEach-Object { $_.Matches[0].Groups[1].Value } | Select-Object -Unique -First 3) -join ', '
    }

    Write-Host 'baseline: building and testing the unmutated copy' -ForegroundColor Cyan
    if ((Invoke-Cargo (Join-Path $logs 'baseline.log') @('test', '-p', 'pmp-mail', '--no-run')) -ne 0 -or
        (Invoke-Cargo (Join-Path $logs 'baseline.log') @('test', '-p', 'pmp-mail')) -ne 0) {
        throw "the unmutated tree fails its tests; see $(Join-Path $logs 'baseline.log')"
    }
    $rows = foreach ($m in $mutants) {
        $path = Join-Path $scratch $m.file
        $original = [System.IO.File]::ReadAllText($path)
        $mutated = $original
        foreach ($edit in $m.edits) {
            $at = $mutated.IndexOf($edit.find, [StringComparison]::Ordinal)
            if ($at -lt 0 -or $mutated.IndexOf($edit.find, $at + 1, [StringComparison]::Ordinal) -ge 0) {
                throw "mutant $($m.id): the text to replace is not found exactly once in $($m.file); update tests/mutants/mutants.json"
            }
            $mutated = $mutated.Substring(0, $at) + $edit.replace + $mutated.Substring($at + $edit.find.Length)
        }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $log = Join-Path $logs "$($m.id).log"
        try {
            [System.IO.File]::WriteAllText($path, $mutated)
            $verdict = if ((Invoke-Cargo $log @('test', '-p', 'pmp-mail', '--no-run')) -ne 0) { 'INVALID' }
            elseif ((Invoke-Cargo $log @('test', '-p', 'pmp-mail')) -ne 0) { 'caught' }
            else { 'SURVIVED' }
        }
        finally {
            [System.IO.File]::WriteAllText($path, $original)
        }
        $row = [pscustomobject]@{
            Id = $m.id; Promise = $m.promise; Mutation = $m.what; Result = $verdict
            Seconds = [int]$watch.Elapsed.TotalSeconds
            CaughtBy = if ($verdict -eq 'caught') { Get-FailedTests $log } else { '' }
        }
        Write-Host ("{0,-5} {1,-9} {2}" -f $row.Id, $row.Result, $row.CaughtBy)
        $row
    }
    Remove-Item -Recurse -Force $scratch
    $rows | Format-Table -AutoSize -Wrap | Out-String -Width 200 | Write-Host
    $caught = @($rows | Where-Object Result -EQ 'caught').Count
    $survived = @($rows | Where-Object Result -EQ 'SURVIVED').Count
    $invalid = @($rows | Where-Object Result -EQ 'INVALID').Count
    Write-Host "mutants: $caught caught, $survived survived, $invalid invalid (of $($rows.Count)); logs in $logs"
    if ($survived -gt 0 -or $invalid -gt 0) { exit 1 }
}

switch ($Task) {
    'build' {
        Invoke-BuildAll
    }
    'test' {
        Invoke-Test -Only $Suite
    }
    'native' {
        & (Join-Path $Root 'tools/Build-NativeRelease.ps1') -Runtime $Runtime
    }
    'package' {
        Invoke-Package
    }
    'demo' {
        Invoke-Demo -NoBuild:$NoBuild
    }
    'screenshot' {
        if (-not $NoBuild) { Invoke-BuildAll }
        & (Join-Path $Root 'tools/New-InboxScreenshot.ps1')
    }
    'bench' {
        Invoke-Bench -BenchArguments $BenchArguments
    }
    'mutants' {
        Invoke-Mutants -Only $Mutant
    }
}
