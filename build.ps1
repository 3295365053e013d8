#!/usr/bin/env pwsh
<#
.SYNOPSIS
    One entry point for building, testing, demonstrating and benchmarking pmp-mail.

.DESCRIPTION
    Run it through the pinned PowerShell tool so the only prerequisites are Rust and the .NET SDK:

        dotnet tool restore && dotnet pwsh ./build.ps1 <task>

    Tasks:
      build   cargo build (library, header, emulator) and the PowerShell module into dist/PmpMail
      test    lint + every suite: Rust, C (gcc + valgrind), C# (xunit), Pester, MSAL/Graph SDK fidelity
      demo    start the emulator sandbox, run Test-PmpMailPermission and Send-PmpMail, show what arrived
      bench   benchmarks that print numbers (module import/size/memory, send throughput vs a peer)
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'demo', 'bench')]
    [string] $Task = 'build'
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
    # The C suite runs under valgrind; a fresh machine may not have it. Debian's packages are reachable.
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
            Invoke-Native bash @('tests/c/run.sh')
        }
        Write-Summary
    }
    'demo' {
        throw 'demo: not yet available'
    }
    'bench' {
        throw 'bench: not yet available'
    }
}
