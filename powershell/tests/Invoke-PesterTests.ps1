#requires -Version 7.4
<#
.SYNOPSIS
    Runs the PmpMail Pester suite against the built module (dist/PmpMail) and the emulator.
.DESCRIPTION
    Prerequisites: cargo build -p pmp-mail -p pmp-graph-emulator; dotnet pwsh ./powershell/build.ps1;
    Pester 5.7.1 restored with: dotnet restore ./powershell/tools/tools.csproj
    Writes NUnit XML to powershell/tests/results/, prints "N passed, M failed[, K skipped]" last, and
    exits non-zero when a test failed.
.EXAMPLE
    dotnet pwsh ./powershell/tests/Invoke-PesterTests.ps1
#>
[CmdletBinding()]
param(
    [string[]] $Path = @($PSScriptRoot),
    [string[]] $Tag,
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string] $Output = 'Detailed'
)

$ErrorActionPreference = 'Stop'
$pester = Join-Path $PSScriptRoot '..' 'tools' 'packages' 'pester' '5.7.1' 'tools' 'Pester.psd1'
if (-not (Test-Path -LiteralPath $pester)) {
    & dotnet restore (Join-Path $PSScriptRoot '..' 'tools' 'tools.csproj') --nologo -v:q | Out-Host
}
Import-Module $pester -RequiredVersion 5.7.1 -Force

$config = [PesterConfiguration]::Default
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Run.Exit = $false
$config.Output.Verbosity = $Output
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$resultsDir = Join-Path $PSScriptRoot 'results'
New-Item -ItemType Directory -Force -Path $resultsDir | Out-Null
$config.TestResult.OutputPath = Join-Path $resultsDir 'pester.xml'
if ($Tag) { $config.Filter.Tag = $Tag }

$result = Invoke-Pester -Configuration $config
$line = "$($result.PassedCount) passed, $($result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount) failed"
if ($result.SkippedCount -gt 0) { $line += ", $($result.SkippedCount) skipped" }
Write-Host $line
exit ([int]($result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount -gt 0 -or $result.Result -ne 'Passed'))
