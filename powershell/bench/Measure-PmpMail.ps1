#requires -Version 7.4
<#
.SYNOPSIS
    Measures what the PmpMail module costs: import time, folder size, and memory for importing and sending.
.DESCRIPTION
    Prints numbers, asserts nothing. Uses the built module (dist/PmpMail; build with
    -NativeProfile release for realistic size) and the emulator from target/debug (or -EmulatorExe).

      Import time  median over -Runs fresh `pwsh -NoProfile` processes of (start + Import-Module) minus a
                   bare start (goal <= 150 ms); also the cold in-process import time and how much of it the
                   format file costs (a copy of the module without FormatsToProcess).
      Module size  the module folder on disk (goal <= 10 MB).
      Memory       working set of a fresh pwsh after importing the module and sending -Messages mails to the
                   emulator, minus the same process before importing (goal <= 30 MB).
.EXAMPLE
    cargo build -p pmp-mail --release; dotnet pwsh ./powershell/build.ps1 -NativeProfile release
    dotnet pwsh ./powershell/bench/Measure-PmpMail.ps1
#>
[CmdletBinding()]
param(
    [int] $Runs = 11,
    [int] $Messages = 100,
    [string] $ModulePath = (Join-Path $PSScriptRoot '..' '..' 'dist' 'PmpMail'),
    # Default: target/debug (see Get-PmpEmulatorPath in tools/PmpBuild.psm1).
    [string] $EmulatorExe
)

$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '..' '..' 'tools' 'PmpBuild.psm1')
if (-not $EmulatorExe) { $EmulatorExe = Get-PmpEmulatorPath }
$ModulePath = (Resolve-Path $ModulePath).Path
$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

function Get-Median([double[]] $values) {
    $sorted = $values | Sort-Object
    $n = $sorted.Count
    if ($n % 2) { $sorted[[int][math]::Floor($n / 2)] } else { ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2 }
}

function Measure-Start([string] $command) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    & $pwsh -NoProfile -NonInteractive -Command $command | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "pwsh failed: $command" }
    $sw.Elapsed.TotalMilliseconds
}

# Reference: a module with nothing in it, i.e. what Import-Module itself costs in a fresh process.
$emptyModule = Join-Path ([IO.Path]::GetTempPath()) ('pmp-bench-empty-' + [guid]::NewGuid().ToString('n'))
New-Item -ItemType Directory -Path $emptyModule | Out-Null
Set-Content -LiteralPath (Join-Path $emptyModule 'Empty.psd1') -Value "@{ ModuleVersion = '1.0'; GUID = '$([guid]::NewGuid())' }"

# Import time: interleave the runs so machine load hits all alike; the first of each warms the disk cache.
$bare = [Collections.Generic.List[double]]::new()
$withImport = [Collections.Generic.List[double]]::new()
$withEmpty = [Collections.Generic.List[double]]::new()
$importCommand = "Import-Module '$ModulePath/PmpMail.psd1'"
$emptyCommand = "Import-Module '$emptyModule/Empty.psd1'"
Measure-Start 'exit 0' | Out-Null
Measure-Start $importCommand | Out-Null
for ($i = 0; $i -lt $Runs; $i++) {
    $bare.Add((Measure-Start 'exit 0'))
    $withImport.Add((Measure-Start $importCommand))
    $withEmpty.Add((Measure-Start $emptyCommand))
}
Remove-Item -LiteralPath $emptyModule -Recurse -Force
$bareMedian = Get-Median $bare
$importMedian = Get-Median $withImport
$emptyMedian = Get-Median $withEmpty
$importAdded = $importMedian - $bareMedian
$loadAverage = if (Test-Path /proc/loadavg) { (Get-Content /proc/loadavg).Split(' ')[0] } else { 'n/a' }

# In-process import time (what Measure-Command sees inside one session), median of 5 fresh processes.
$inProcess = Get-Median (1..5 | ForEach-Object { [double](& $pwsh -NoProfile -NonInteractive -Command "(Measure-Command { $importCommand }).TotalMilliseconds") })

# Cold import inside fresh processes (stopwatch around the first command), with and without the format file:
# any FormatsToProcess entry makes PowerShell rebuild its whole format table, whatever the file holds.
$noFormat = Join-Path ([IO.Path]::GetTempPath()) ('pmp-bench-nofmt-' + [guid]::NewGuid().ToString('n'))
New-Item -ItemType Directory -Path $noFormat | Out-Null
Get-ChildItem -LiteralPath $ModulePath -File | Copy-Item -Destination $noFormat
(Get-Content -LiteralPath (Join-Path $ModulePath 'PmpMail.psd1')) -notmatch '^\s*FormatsToProcess\b' |
    Set-Content -LiteralPath (Join-Path $noFormat 'PmpMail.psd1')
$coldCommand = { param($path) "`$sw = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$path'; `$sw.Elapsed.TotalMilliseconds" }
$cold = [Collections.Generic.List[double]]::new()
$coldNoFormat = [Collections.Generic.List[double]]::new()
for ($i = 0; $i -lt $Runs; $i++) {
    $cold.Add([double](& $pwsh -NoProfile -NonInteractive -Command (& $coldCommand "$ModulePath/PmpMail.psd1")))
    $coldNoFormat.Add([double](& $pwsh -NoProfile -NonInteractive -Command (& $coldCommand "$noFormat/PmpMail.psd1")))
}
Remove-Item -LiteralPath $noFormat -Recurse -Force
$coldMedian = Get-Median $cold
$coldNoFormatMedian = Get-Median $coldNoFormat

# Module folder size.
$sizeBytes = (Get-ChildItem -LiteralPath $ModulePath -Recurse -File | Measure-Object Length -Sum).Sum
$nativeBytes = (Get-ChildItem -LiteralPath (Join-Path $ModulePath 'runtimes') -Recurse -File | Measure-Object Length -Sum).Sum
$desktopDir = Join-Path $ModulePath 'Desktop'
$desktopBytes = if (Test-Path -LiteralPath $desktopDir) { (Get-ChildItem -LiteralPath $desktopDir -Recurse -File | Measure-Object Length -Sum).Sum } else { 0 }

# Memory: one fresh pwsh imports, sends $Messages mails to the emulator, and reports its working set.
$state = Join-Path ([IO.Path]::GetTempPath()) ('pmp-bench-' + [guid]::NewGuid().ToString('n'))
New-Item -ItemType Directory -Path $state | Out-Null
$emulator = Start-PmpEmulator -Path $EmulatorExe -Demo -StateDir $state -StandardErrorPath (Join-Path $state 'emulator.err')
try {
    $script = @"
`$ErrorActionPreference = 'Stop'
function ws { [GC]::Collect(); [GC]::WaitForPendingFinalizers(); `$p = [Diagnostics.Process]::GetCurrentProcess(); `$p.Refresh(); `$p.WorkingSet64 }
`$before = ws
Import-Module '$ModulePath/PmpMail.psd1'
`$afterImport = ws
`$secret = ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force
Connect-PmpMail -TenantId 'contoso.onmicrosoft.com' -ClientId '22222222-2222-2222-2222-222222222222' -ClientSecret `$secret ``
    -AuthorityHost '$($emulator.BaseUrl)' -GraphRoot '$($emulator.BaseUrl)' -TrustedCaPath '$($emulator.CaPath)' -WarningAction SilentlyContinue
`$sw = [Diagnostics.Stopwatch]::StartNew()
1..$Messages | ForEach-Object { [pscustomobject]@{ To = "user`$_@contoso.com"; Subject = "bench `$_"; Body = 'x' * 2000 } } |
    Send-PmpMail -From 'alerts@contoso.onmicrosoft.com'
`$sendMs = `$sw.Elapsed.TotalMilliseconds
`$afterSend = ws
"{0} {1} {2} {3}" -f `$before, `$afterImport, `$afterSend, `$sendMs
"@
    $numbers = (& $pwsh -NoProfile -NonInteractive -Command $script | Select-Object -Last 1) -split ' '
    $before, $afterImport, $afterSend, $sendMs = $numbers | ForEach-Object { [double]$_ }
    # Over TLS that trusts only the emulator's CA.
    $counters = Invoke-PmpEmulatorControl $emulator 'counters'
}
finally {
    Stop-PmpEmulator $emulator
    Remove-Item -LiteralPath $state -Recurse -Force -ErrorAction SilentlyContinue
}

$mb = 1MB
$rows = @(
    [pscustomobject]@{ Measure = "Import-Module time added (median of $Runs)"; Value = '{0:N0} ms' -f $importAdded; Goal = '<= 150 ms'; Met = $importAdded -le 150 }
    [pscustomobject]@{ Measure = '  bare pwsh start / with import (median)'; Value = '{0:N0} / {1:N0} ms' -f $bareMedian, $importMedian; Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = '  of which Import-Module of an empty module'; Value = '{0:N0} ms' -f ($emptyMedian - $bareMedian); Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = '  Import-Module inside a session (median)'; Value = '{0:N0} ms' -f $inProcess; Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = '  cold Import-Module, first command (median)'; Value = '{0:N0} ms' -f $coldMedian; Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = '  of which the format file (FormatsToProcess)'; Value = '{0:N0} ms' -f ($coldMedian - $coldNoFormatMedian); Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = '  machine load average (1 min)'; Value = $loadAverage; Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = 'Module folder size'; Value = '{0:N1} MB' -f ($sizeBytes / $mb); Goal = '<= 10 MB'; Met = $sizeBytes -le 10MB }
    [pscustomobject]@{ Measure = '  of which native library'; Value = '{0:N1} MB' -f ($nativeBytes / $mb); Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = '  of which Windows PowerShell 5.1 build (Desktop/)'; Value = '{0:N1} MB' -f ($desktopBytes / $mb); Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = "Memory added: import + $Messages mails"; Value = '{0:N1} MB' -f (($afterSend - $before) / $mb); Goal = '<= 30 MB'; Met = ($afterSend - $before) -le 30MB }
    [pscustomobject]@{ Measure = '  of which import'; Value = '{0:N1} MB' -f (($afterImport - $before) / $mb); Goal = ''; Met = $null }
    [pscustomobject]@{ Measure = "  $Messages mails sent in"; Value = '{0:N0} ms ({1} accepted, {2} token request(s))' -f $sendMs, $counters.messagesAccepted, $counters.tokenRequests; Goal = ''; Met = $null }
)
$rows | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
