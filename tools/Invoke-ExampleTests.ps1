#requires -Version 7.4
<#
.SYNOPSIS
    Runs the examples the way their header comments document, against the emulator's demo tenant
    (`serve --demo --strict`), then checks through the emulator's control API that exactly the
    expected messages arrived.
.DESCRIPTION
      examples/csharp/SendMail             twice: the demo secret, then --certificate (demo-app.pfx)
      examples/powershell/Send-Report.ps1  once: it sends with the secret and with the certificate

    build.ps1 test runs it after the shared build (native library, emulator and dist/PmpMail must
    exist). The control API is read over TLS that trusts only the emulator's CA. Prints
    "N passed, M failed" last and throws when anything failed.
.EXAMPLE
    dotnet pwsh ./build.ps1 test -Suite examples
#>
[CmdletBinding()]
param(
    [string] $CargoProfile = 'debug'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')

$repo = Get-PmpRepositoryRoot
$module = Join-Path $repo 'dist' 'PmpMail' 'PmpMail.psd1'
if (-not (Test-Path -LiteralPath $module)) { throw "The module is not built ($module); run: dotnet pwsh ./build.ps1 build" }

$checks = New-PmpCheckRun
function Check([string] $CheckName, [scriptblock] $CheckBody) { Invoke-PmpCheck $checks $CheckName $CheckBody }

$work = Join-Path ([System.IO.Path]::GetTempPath()) ('pmp-examples-' + [guid]::NewGuid().ToString('n'))
New-Item -ItemType Directory -Path $work | Out-Null
$emulator = $null
try {
    $emulator = Start-PmpEmulator -CargoProfile $CargoProfile -Demo -Strict -StateDir (Join-Path $work 'state') `
        -StandardErrorPath (Join-Path $work 'emulator.err')
    $baseUrl = $emulator.BaseUrl
    $stateDir = $emulator.StateDir

    # As documented at the top of examples/csharp/SendMail/Program.cs.
    $sendMail = Join-Path $repo 'examples/csharp/SendMail'
    Check 'csharp SendMail (demo secret)' {
        Invoke-Native dotnet @('run', '--project', $sendMail, '--', '--emulator', $baseUrl, '--state-dir', $stateDir)
    }
    Check 'csharp SendMail (demo certificate)' {
        Invoke-Native dotnet @('run', '--project', $sendMail, '--', '--emulator', $baseUrl, '--state-dir', $stateDir, '--certificate')
    }
    # As documented in examples/powershell/Send-Report.ps1.
    Check 'powershell Send-Report.ps1 (secret, then certificate)' {
        Invoke-Native dotnet @('pwsh', '-NoProfile', '-File', (Join-Path $repo 'examples/powershell/Send-Report.ps1'),
            '-EmulatorUrl', $baseUrl, '-EmulatorStateDir', $stateDir)
    }

    Check 'emulator received exactly the 4 expected messages' {
        $messages = @(Invoke-PmpEmulatorControl $emulator 'messages')
        $script:ok = $true
        function Expect([bool] $Condition, [string] $What) {
            if (-not $Condition) { $script:ok = $false; Write-Host "   expected $What" -ForegroundColor Red }
        }
        $subjects = @($messages | ForEach-Object subject | Sort-Object -Culture '')
        Write-Host "   subjects: $($subjects | ConvertTo-Json -Compress)"
        Expect ($messages.Count -eq 4) "4 messages, got $($messages.Count)"
        $csharp = @($messages | Where-Object { $_.subject.StartsWith("pmp-mail C# example ✓ ", [StringComparison]::Ordinal) })
        Expect ($csharp.Count -eq 2) "2 'pmp-mail C# example ✓ <time>' messages, got $($csharp.Count)"
        foreach ($m in $csharp) {
            $names = @($m.attachments | ForEach-Object name)
            Expect ($names.Count -eq 1 -and $names[0] -ceq 'hello.txt') "hello.txt attached to '$($m.subject)'"
            $headers = @($m.headers | Where-Object { $_.name.ToLowerInvariant() -ceq 'x-pmp-example' -and $_.value -ceq 'csharp' })
            Expect ($headers.Count -ge 1) "header x-pmp-example: csharp on '$($m.subject)'"
            Expect ($m.importance -ceq 'high') "importance high on '$($m.subject)'"
        }
        foreach ($subject in 'System report (secret) ✓', 'System report (certificate) ✓') {
            $ps = @($messages | Where-Object { $_.subject -ceq $subject })
            Expect ($ps.Count -eq 1) "exactly one '$subject', got $($ps.Count)"
            foreach ($m in $ps) {
                $names = @($m.attachments | ForEach-Object name)
                Expect ($names.Count -eq 1 -and $names[0].StartsWith('Prozess-Bericht-', [StringComparison]::Ordinal) -and $names[0].EndsWith('.csv', [StringComparison]::Ordinal)) `
                    "one Prozess-Bericht-*.csv attached to '$subject', got $($names -join ', ')"
                Expect ($m.bodyContentType -ceq 'html') "an HTML body on '$subject'"
            }
        }
        foreach ($m in $messages) {
            Expect ($m.mailbox -ceq 'alerts@contoso.onmicrosoft.com') "mailbox alerts@contoso.onmicrosoft.com, got '$($m.mailbox)'"
            Expect ($m.appId -ceq '22222222-2222-2222-2222-222222222222') "the demo app, got '$($m.appId)'"
            $to = @($m.to | ForEach-Object address)
            Expect ($to.Count -eq 1 -and $to[0] -ceq 'ops@contoso.com') "To ops@contoso.com on '$($m.subject)'"
        }
        $script:ok
    }
    Check 'emulator counters: messagesAccepted = 4' {
        $counters = Invoke-PmpEmulatorControl $emulator 'counters'
        Write-Host "   counters: $($counters | ConvertTo-Json -Compress)"
        $counters.messagesAccepted -eq 4
    }
}
finally {
    Stop-PmpEmulator $emulator
    Show-PmpEmulatorLog $checks $emulator
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
Complete-PmpCheckRun $checks 'examples'
