<#
.SYNOPSIS
    Regenerates docs/images/inbox.png, the README's picture of the emulator's inbox page: the demo
    tenant, a few mails sent through the built module, one opened, taken by headless Chromium.
.DESCRIPTION
    Run through `dotnet pwsh ./build.ps1 screenshot`. Pixels differ between machines (fonts,
    times); nothing compares them. The image must stay under 200 KB.
#>
[CmdletBinding()]
param(
    [string] $Path
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1') -Force
Import-Module (Join-Path $PSScriptRoot 'PmpBrowser.psm1') -Force
if (-not $Path) { $Path = Join-Path $root 'docs' 'images' 'inbox.png' }

$found = Install-PmpBrowser
if (-not $found) { throw 'No Chromium/Chrome/Edge with its WebDriver on PATH' }
Import-Module (Join-Path $root 'dist' 'PmpMail' 'PmpMail.psd1') -Force

$work = Join-Path (Get-PmpTargetDirectory) 'screenshot'
if (Test-Path $work) { Remove-Item -Recurse -Force $work }
New-Item -ItemType Directory -Force -Path $work | Out-Null
$emulator = Start-PmpEmulator -Demo -StateDir (Join-Path $work 'state')
$browser = $null
try {
    $connection = @{
        TenantId      = 'contoso.onmicrosoft.com'
        ClientId      = '22222222-2222-2222-2222-222222222222'
        ClientSecret  = ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force
        AuthorityHost = $emulator.AuthorityHost
        GraphRoot     = $emulator.GraphRoot
        TrustedCaPath = $emulator.CaPath
    }
    $from = 'alerts@contoso.onmicrosoft.com'
    $logo = Join-Path $work 'chart.png'
    New-PmpSamplePng -Path $logo -Width 240 -Height 80
    $csv = Join-Path $work 'patch-report.csv'
    "Product,Version,Status`nContoso Agent,5.2.1,Published`nFabrikam Tool,2.0.0,Published" | Set-Content -Path $csv -Encoding utf8

    Send-PmpMail @connection -From $from -To 'backup-admins@contoso.onmicrosoft.com' -Subject 'Backup finished: 14 of 14 servers' `
        -Body 'All backups completed in 41 minutes.' | Out-Null
    Send-PmpMail @connection -From $from -To 'Ops Team <ops@contoso.onmicrosoft.com>' -Priority High `
        -Subject 'Disk space low on FS01 (4% free)' -Body 'Volume D: has 12 GB free of 300 GB.' | Out-Null
    Send-PmpMail @connection -From $from -To 'Ops Team <ops@contoso.onmicrosoft.com>' -Cc 'Zoë Müller <zoe@contoso.onmicrosoft.com>' `
        -Subject 'Patch report: 2 updates published ✓' -BodyAsHtml -InlineAttachment @{ chart = $logo } -Attachments $csv `
        -Body ('<div style="font-family:Segoe UI,Liberation Sans,sans-serif"><h1 style="color:#1f2328">Nightly publishing</h1>' +
            '<p>2 updates published — café, naïve, Zoë.</p><p><img src="cid:chart" alt="Updates per night"></p>' +
            '<table style="border-collapse:collapse"><tr><th style="text-align:left;padding:2px 12px 2px 0">Product</th><th style="text-align:left">Version</th></tr>' +
            '<tr><td style="padding:2px 12px 2px 0">Contoso Agent</td><td>5.2.1</td></tr><tr><td style="padding:2px 12px 2px 0">Fabrikam Tool</td><td>2.0.0</td></tr></table></div>') | Out-Null

    $browser = Start-PmpBrowser -Found $found -DownloadDir (Join-Path $work 'downloads') -TrustedKeyHash (Get-PmpServerKeyHash $emulator) -Width 1200 -Height 880
    Open-PmpPage $browser "$($emulator.BaseUrl)/_emulator/"
    $null = Wait-PmpCondition { (Invoke-PmpScript $browser 'return document.querySelectorAll("#list tbody tr").length') -eq 3 } -Because 'three rows'
    Invoke-PmpClick $browser '#list tbody tr:nth-child(1)'
    $frame = Find-PmpElement $browser '#v-html'
    $null = Invoke-PmpWebDriver $browser POST '/frame' @{ id = $frame.Reference }
    $null = Wait-PmpCondition { Invoke-PmpScript $browser 'const i = document.querySelector("img"); return !!i && i.complete && i.naturalWidth > 0' } -Because 'the inline image'
    $null = Invoke-PmpWebDriver $browser POST '/frame/parent' @{}
    Save-PmpScreenshot $browser $Path
}
finally {
    Stop-PmpBrowser $browser
    Stop-PmpEmulator $emulator
}
$size = (Get-Item -LiteralPath $Path).Length
Write-Host "Wrote $Path ($([int]($size / 1KB)) KB)"
if ($size -gt 200KB) { throw "$Path is $([int]($size / 1KB)) KB; keep it under 200 KB (a smaller window)" }
