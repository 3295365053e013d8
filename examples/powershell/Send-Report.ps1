#requires -Version 7.4
<#
.SYNOPSIS
    Example: sends a small system report (HTML body, CSV attachment) with PmpMail.

.DESCRIPTION
    Run it against the local emulator (no tenant needed), from the repository root:

        cargo build -p pmp-mail -p pmp-graph-emulator
        dotnet tool restore; dotnet pwsh ./powershell/build.ps1
        target/debug/pmp-graph-emulator serve --demo --state-dir /tmp/emu     # prints {"baseUrl":"https://127.0.0.1:PORT",...}
        dotnet pwsh ./examples/powershell/Send-Report.ps1 -EmulatorUrl https://127.0.0.1:PORT -EmulatorStateDir /tmp/emu

    It checks the permission, then sends with the demo app's secret, and again with its certificate
    (demo-app.pfx). Open https://127.0.0.1:PORT/_emulator/ to see the messages.

    Against a real tenant, save a profile once and pass -ProfileName:

        Register-PmpMailProfile -Name contoso-mail -TenantId contoso.onmicrosoft.com -ClientId <app id> -CertificateThumbprint <thumbprint>
        dotnet pwsh ./examples/powershell/Send-Report.ps1 -ProfileName contoso-mail -From alerts@contoso.com -To ops@contoso.com
#>
[CmdletBinding(DefaultParameterSetName = 'Emulator')]
param(
    [Parameter(ParameterSetName = 'Emulator', Mandatory)] [string] $EmulatorUrl,
    [Parameter(ParameterSetName = 'Emulator', Mandatory)] [string] $EmulatorStateDir,
    [Parameter(ParameterSetName = 'Profile', Mandatory)] [string] $ProfileName,
    [string] $From = 'alerts@contoso.onmicrosoft.com',
    [string[]] $To = @('Ops Team <ops@contoso.com>'),
    [string] $ModulePath = (Join-Path $PSScriptRoot '..' '..' 'dist' 'PmpMail' 'PmpMail.psd1')
)

$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

# The report: a CSV of the busiest processes, and an HTML summary.
$reportFile = Join-Path ([IO.Path]::GetTempPath()) "Prozess-Bericht-$(Get-Date -Format yyyyMMdd-HHmmss).csv"
Get-Process | Sort-Object CPU -Descending | Select-Object -First 15 Name, Id, CPU, WorkingSet64 |
    Export-Csv -LiteralPath $reportFile -NoTypeInformation -Encoding utf8
$body = @"
<h2>System report for $([Environment]::MachineName)</h2>
<p>Generated $(Get-Date -Format u). The 15 busiest processes are attached (CSV).</p>
"@

if ($PSCmdlet.ParameterSetName -eq 'Emulator') {
    $endpoints = @{ AuthorityHost = $EmulatorUrl; GraphRoot = $EmulatorUrl; TrustedCaPath = (Join-Path $EmulatorStateDir 'ca.pem') }
    $tenant = @{ TenantId = 'contoso.onmicrosoft.com'; ClientId = '22222222-2222-2222-2222-222222222222' }

    # 1. A client secret, with a session connection reused for both calls below.
    Connect-PmpMail @tenant @endpoints -ClientSecret (ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force)
    Test-PmpMailPermission | Format-Table
    Send-PmpMail -To $To -From $From -Subject 'System report (secret) ✓' -Body $body -BodyAsHtml -Attachments $reportFile -PassThru |
        Format-Table
    Disconnect-PmpMail

    # 2. The demo certificate from a PFX: signed in .NET through the signer callback.
    $pfxPassword = ConvertTo-SecureString 'demo' -AsPlainText -Force
    Send-PmpMail -To $To -From $From -Subject 'System report (certificate) ✓' -Body $body -BodyAsHtml -Attachments $reportFile `
        @tenant @endpoints -CertificatePath (Join-Path $EmulatorStateDir 'demo-app.pfx') -CertificatePassword $pfxPassword -PassThru |
        Format-Table
}
else {
    if (-not (Test-PmpMailPermission -ProfileName $ProfileName -Quiet)) {
        throw "The app of profile '$ProfileName' does not hold Mail.Send: run Test-PmpMailPermission -ProfileName $ProfileName for details."
    }
    Send-PmpMail -ProfileName $ProfileName -To $To -From $From -Subject "System report for $([Environment]::MachineName)" `
        -Body $body -BodyAsHtml -Attachments $reportFile -PassThru | Format-Table
}

Remove-Item -LiteralPath $reportFile
