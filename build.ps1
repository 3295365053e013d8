#!/usr/bin/env pwsh
<#
.SYNOPSIS
    One entry point for building, testing, demonstrating and benchmarking pmp-mail.

.DESCRIPTION
    Run it through the pinned PowerShell tool so the only prerequisites are Rust and the .NET SDK:

        dotnet tool restore && dotnet pwsh ./build.ps1 <task>

    Tasks:
      build   cargo build (library, header, emulator) and the PowerShell module into dist/PmpMail
      test    lint + every suite: Rust, C (gcc + valgrind), C# (xunit), Pester, MSAL/Graph SDK fidelity, examples
      demo    start the emulator sandbox, run Test-PmpMailPermission and Send-PmpMail, show what arrived
      bench   benchmarks that print numbers (module import/size/memory, send throughput vs a peer)
      mutants applies the deliberate bugs in tests/mutants/mutants.json one at a time to a scratch
              copy and runs the Rust suites against each: prints caught / survived (slow: ~1 min
              per mutant; not part of `test`). -Mutant M7b,M11 picks some.
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'demo', 'bench', 'mutants')]
    [string] $Task = 'build',

    # For the mutants task: the ids to run (default: all).
    [string[]] $Mutant = @()
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
Set-Location $Root

function Invoke-Native {
    # Runs a native command and throws when it fails, so a red step stops the task.
    param([Parameter(Mandatory)][string] $Command, [string[]] $Arguments = @())
    Write-Host "> $Command $($Arguments -join ' ')" -ForegroundColor DarkGray
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "'$Command $($Arguments -join ' ')' failed with exit code $LASTEXITCODE" }
}

function Install-SystemPrerequisite {
    # The C suite runs under valgrind and asks the emulator with curl; a fresh machine may not have
    # them. Debian's packages are reachable.
    param([string] $Command, [string] $Package)
    if (Get-Command $Command -ErrorAction SilentlyContinue) { return }
    Write-Host "Installing $Package (needed for $Command)" -ForegroundColor Yellow
    if ((id -u) -ne '0') { throw "$Command is missing: install the Debian package '$Package'" }
    & apt-get install -y -qq $Package *> $null
    if ($LASTEXITCODE -ne 0) {
        & apt-get update -qq *> $null
        Invoke-Native apt-get @('install', '-y', '-qq', $Package)
    }
}

function Invoke-BuildNative {
    Invoke-Native cargo @('build', '--workspace', '--all-targets')
}

function Test-HeaderCurrent {
    # build.rs regenerated include/pmp_mail.h; the committed copy must match it.
    Invoke-Native git @('diff', '--exit-code', '--', 'include/pmp_mail.h')
}

$script:Results = [System.Collections.Generic.List[object]]::new()

function Invoke-Suite {
    param([Parameter(Mandatory)][string] $Name, [Parameter(Mandatory)][scriptblock] $Body)
    Write-Host "`n=== $Name ===" -ForegroundColor Cyan
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        & $Body
        $script:Results.Add([pscustomobject]@{ Suite = $Name; Result = 'passed'; Seconds = [int]$watch.Elapsed.TotalSeconds })
    }
    catch {
        $script:Results.Add([pscustomobject]@{ Suite = $Name; Result = 'FAILED'; Seconds = [int]$watch.Elapsed.TotalSeconds })
        Write-Host "Suite '$Name' failed: $_" -ForegroundColor Red
    }
}

function Write-Summary {
    Write-Host ''
    $script:Results | Format-Table -AutoSize | Out-String | Write-Host
    $passed = @($script:Results | Where-Object Result -EQ 'passed').Count
    $failed = @($script:Results | Where-Object Result -NE 'passed').Count
    Write-Host "suites: $passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Build-Module {
    # Assembles dist/PmpMail (manifest, assemblies, help, native library) from the debug native build.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-File', (Join-Path $Root 'powershell/build.ps1'))
}

function Start-Emulator {
    # Starts the emulator sandbox and returns what it printed: base URLs, CA path, state dir.
    param([string[]] $Arguments)
    $targetDir = if ($env:CARGO_TARGET_DIR) { $env:CARGO_TARGET_DIR } else { Join-Path $Root 'target' }
    $psi = [System.Diagnostics.ProcessStartInfo]::new((Join-Path $targetDir 'debug/pmp-graph-emulator'))
    foreach ($a in @('serve') + $Arguments + @('--exit-on-stdin-eof')) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardInput = $true
    $process = [System.Diagnostics.Process]::Start($psi)
    $line = $process.StandardOutput.ReadLine()
    if (-not $line) { throw 'the emulator exited before it printed its address' }
    $info = $line | ConvertFrom-Json
    $info | Add-Member -NotePropertyName Process -NotePropertyValue $process
    $info
}

function Invoke-Demo {
    Invoke-Native cargo @('build', '-p', 'pmp-mail', '-p', 'pmp-graph-emulator')
    Build-Module
    $state = Join-Path $Root '.state/demo'
    if (Test-Path $state) { Remove-Item -Recurse -Force $state }
    $emulator = Start-Emulator @('--demo', '--state-dir', $state)
    try {
        Write-Host "Emulator sandbox at $($emulator.baseUrl) (inbox page: $($emulator.baseUrl)/_emulator/)" -ForegroundColor Cyan
        Import-Module (Join-Path $Root 'dist/PmpMail/PmpMail.psd1') -Force
        # The demo tenant's app registration, as you would fill it in for a real tenant
        # (drop the three endpoint parameters there).
        $connection = @{
            TenantId      = 'contoso.onmicrosoft.com'
            ClientId      = '22222222-2222-2222-2222-222222222222'
            ClientSecret  = ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force
            AuthorityHost = $emulator.authorityHost
            GraphRoot     = $emulator.graphRoot
            TrustedCaPath = $emulator.caPath
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
    }
    finally {
        $emulator.Process.StandardInput.Close()
        if (-not $emulator.Process.WaitForExit(5000)) { $emulator.Process.Kill() }
    }
}

function Invoke-Mutants {
    # A scratch copy of the working tree (tracked and new files), its own target dir, one mutant
    # at a time. A mutant is caught when `cargo test -p pmp-mail` fails; one that does not
    # compile is reported as invalid, not caught.
    param([string[]] $Only)
    $plan = Get-Content (Join-Path $Root 'tests/mutants/mutants.json') -Raw | ConvertFrom-Json
    $mutants = @($plan.mutants | Where-Object { -not $Only -or $Only -contains $_.id })
    if ($mutants.Count -eq 0) { throw "no mutant matches '$($Only -join ', ')'" }
    $work = Join-Path $Root 'target/mutants'
    $scratch = Join-Path $work 'tree'
    if (Test-Path $scratch) { Remove-Item -Recurse -Force $scratch }
    $files = (& git -C $Root ls-files -z --cached --others --exclude-standard) -split "`0" | Where-Object { $_ }
    foreach ($file in $files) {
        $from = Join-Path $Root $file
        if (-not (Test-Path $from -PathType Leaf)) { continue }
        $to = Join-Path $scratch $file
        New-Item -ItemType Directory -Force -Path (Split-Path $to) | Out-Null
        Copy-Item $from $to
    }
    $env:CARGO_TARGET_DIR = Join-Path $work 'target'
    $manifest = Join-Path $scratch 'Cargo.toml'
    $logs = Join-Path $work 'logs'
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
    $rows | Format-Table -AutoSize -Wrap | Out-String -Width 200 | Write-Host
    $caught = @($rows | Where-Object Result -EQ 'caught').Count
    $survived = @($rows | Where-Object Result -EQ 'SURVIVED').Count
    $invalid = @($rows | Where-Object Result -EQ 'INVALID').Count
    Write-Host "mutants: $caught caught, $survived survived, $invalid invalid (of $($rows.Count)); logs in $logs"
    if ($survived -gt 0 -or $invalid -gt 0) { exit 1 }
}

switch ($Task) {
    'build' {
        Invoke-BuildNative
    }
    'test' {
        Invoke-Suite 'rust-lint' {
            Invoke-Native cargo @('fmt', '--all', '--check')
            Invoke-Native cargo @('clippy', '--workspace', '--all-targets', '--', '-D', 'warnings')
        }
        Invoke-Suite 'header-current' {
            Invoke-BuildNative
            Test-HeaderCurrent
        }
        Invoke-Suite 'rust-tests' {
            Invoke-Native cargo @('test', '--workspace')
        }
        Invoke-Suite 'c-abi' {
            Install-SystemPrerequisite -Command valgrind -Package valgrind
            Install-SystemPrerequisite -Command curl -Package curl
            Invoke-Native bash @('tests/c/run.sh')
        }
        Invoke-Suite 'csharp-interop (xunit)' {
            Invoke-Native dotnet @('test', 'dotnet/PmpMail.Interop.Tests/PmpMail.Interop.Tests.csproj')
        }
        Invoke-Suite 'powershell-module (Pester)' {
            Build-Module
            Invoke-Native dotnet @('pwsh', '-NoProfile', '-File', 'powershell/tests/Invoke-PesterTests.ps1', '-Output', 'Normal')
        }
        Invoke-Suite 'demo (README command)' {
            # The demo must keep working: run it as a user would and check what arrived.
            Invoke-Native dotnet @('pwsh', '-NoProfile', '-File', (Join-Path $Root 'build.ps1'), 'demo')
            $arrived = @(Get-ChildItem (Join-Path $Root '.state/demo/messages') -Filter '*.json' |
                    ForEach-Object { (Get-Content $_.FullName -Raw | ConvertFrom-Json).subject } | Sort-Object)
            $expected = @('Inventory export', 'Patch report: 2 updates published ✓')
            if (Compare-Object $arrived $expected) { throw "demo: expected messages '$($expected -join "', '")', got '$($arrived -join "', '")'" }
        }
        Invoke-Suite 'examples (C# SendMail, Send-Report.ps1)' {
            Invoke-Native bash @('examples/run.sh')
        }
        Invoke-Suite 'emulator-fidelity (MSAL.NET, Graph .NET SDK)' {
            Invoke-Native bash @('emulator/fidelity/run.sh')
        }
        Invoke-Suite 'dotnet-format' {
            Invoke-Native dotnet @('format', 'pmp-mail.sln', '--verify-no-changes')
        }
        Write-Summary
    }
    'demo' {
        Invoke-Demo
    }
    'bench' {
        # Prints numbers; asserts nothing about time. PMP_BENCH_PROFILE=release for release builds.
        Invoke-Native bash @('bench/run.sh')
    }
    'mutants' {
        Invoke-Mutants -Only $Mutant
    }
}
