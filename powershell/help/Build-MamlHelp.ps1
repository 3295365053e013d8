#requires -Version 7.4
<#
.SYNOPSIS
    Generates en-US/PmpMail.PowerShell.dll-Help.xml (MAML) for the built module.
.DESCRIPTION
    platyPS is not available here, so this writes MAML directly. Prose (synopsis, description, parameter
    text, examples, notes) comes from help/<Cmdlet>.psd1 (shared credential parameters from _Common.psd1);
    syntax, types, positions, pipeline input and aliases come from the compiled cmdlets themselves, so the
    help cannot drift from the code. Fails when a cmdlet, parameter or example has no text.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutputPath
)

$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $ModulePath 'PmpMail.psd1') -Force
$common = Import-PowerShellDataFile (Join-Path $PSScriptRoot '_Common.psd1')
# -WhatIf and -Confirm are documented like Get-Help does for compiled cmdlets; the rest are <CommonParameters>.
$commonParameterNames = @([System.Management.Automation.PSCmdlet]::CommonParameters) + 'UseTransaction'

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
New-Item -ItemType Directory -Force -Path $OutputPath | Out-Null
$file = Join-Path $OutputPath 'PmpMail.PowerShell.dll-Help.xml'
$w = [System.Xml.XmlWriter]::Create($file, $settings)

$maml = 'http://schemas.microsoft.com/maml/2004/10'
$cmd = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'

function Write-Paras([string] $text) {
    # Blank lines separate paragraphs.
    if (-not $text) { return }
    foreach ($para in ($text.Trim() -split '\r?\n\s*\r?\n')) {
        $w.WriteElementString('maml', 'para', $maml, (($para -split '\r?\n' | ForEach-Object Trim) -join ' '))
    }
}

function Write-Description([string] $prefix, [string] $ns, [string] $text) {
    $w.WriteStartElement($prefix, 'description', $ns)
    Write-Paras $text
    $w.WriteEndElement()
}

function Get-TypeName([type] $type) {
    if ($type.IsArray) { return (Get-TypeName $type.GetElementType()) + '[]' }
    $type.Name
}

function Get-PipelineText($attribute) {
    $kinds = @()
    if ($attribute.ValueFromPipeline) { $kinds += 'ByValue' }
    if ($attribute.ValueFromPipelineByPropertyName) { $kinds += 'ByPropertyName' }
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

function Write-Parameter($parameter, $attribute, [string] $text, [switch] $InSyntax) {
    $isSwitch = $parameter.ParameterType -eq [System.Management.Automation.SwitchParameter]
    $w.WriteStartElement('command', 'parameter', $cmd)
    $w.WriteAttributeString('required', $attribute.Mandatory.ToString().ToLowerInvariant())
    $w.WriteAttributeString('variableLength', $parameter.ParameterType.IsArray.ToString().ToLowerInvariant())
    $w.WriteAttributeString('globbing', 'false')
    $w.WriteAttributeString('pipelineInput', (Get-PipelineText $attribute))
    $w.WriteAttributeString('position', ($attribute.Position -ge 0 ? [string]$attribute.Position : 'named'))
    $w.WriteAttributeString('aliases', ($parameter.Aliases.Count ? ($parameter.Aliases -join ', ') : 'none'))
    $w.WriteElementString('maml', 'name', $maml, $parameter.Name)
    # Syntax entries stay short; Get-Help reads the text from the parameters section.
    Write-Description 'maml' $maml ($InSyntax ? '' : $text)
    if (-not $isSwitch) {
        $w.WriteStartElement('command', 'parameterValue', $cmd)
        $w.WriteAttributeString('required', 'true')
        $w.WriteAttributeString('variableLength', 'false')
        $w.WriteString((Get-TypeName $parameter.ParameterType))
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $dev)
    $w.WriteElementString('maml', 'name', $maml, $parameter.ParameterType.FullName)
    $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $dev, ($isSwitch ? 'False' : 'None'))
    $w.WriteEndElement()
}

$w.WriteStartDocument()
$w.WriteStartElement('helpItems', 'http://msh')
$w.WriteAttributeString('schema', 'maml')

$commands = Get-Command -Module PmpMail -CommandType Cmdlet | Sort-Object Name
foreach ($command in $commands) {
    $sourcePath = Join-Path $PSScriptRoot "$($command.Name).psd1"
    if (-not (Test-Path -LiteralPath $sourcePath)) { throw "No help source for $($command.Name): $sourcePath" }
    $help = Import-PowerShellDataFile $sourcePath
    foreach ($key in 'Synopsis', 'Description', 'Examples') {
        if (-not $help[$key]) { throw "$sourcePath has no $key" }
    }
    $parameterText = @{}
    foreach ($entry in $common.Parameters.GetEnumerator()) { $parameterText[$entry.Key] = $entry.Value }
    if ($help.Parameters) { foreach ($entry in $help.Parameters.GetEnumerator()) { $parameterText[$entry.Key] = $entry.Value } }
    $parameters = $command.Parameters.Values | Where-Object { $_.Name -notin $commonParameterNames }
    foreach ($p in $parameters) {
        if (-not $parameterText[$p.Name]) { throw "$sourcePath has no text for parameter -$($p.Name)" }
    }

    $w.WriteStartElement('command', 'command', $cmd)
    $w.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $w.WriteAttributeString('xmlns', 'dev', $null, $dev)
    $w.WriteStartElement('command', 'details', $cmd)
    $w.WriteElementString('command', 'name', $cmd, $command.Name)
    $w.WriteElementString('command', 'verb', $cmd, $command.Verb)
    $w.WriteElementString('command', 'noun', $cmd, $command.Noun)
    Write-Description 'maml' $maml $help.Synopsis
    $w.WriteEndElement()
    Write-Description 'maml' $maml $help.Description

    $w.WriteStartElement('command', 'syntax', $cmd)
    $sets = $command.ParameterSets | Sort-Object { -not $_.IsDefault }
    foreach ($set in $sets) {
        $w.WriteStartElement('command', 'syntaxItem', $cmd)
        $w.WriteElementString('maml', 'name', $maml, $command.Name)
        # Positional first (by position), then mandatory, then optional; declaration order otherwise.
        $declared = @($command.Parameters.Keys)
        $ordered = $set.Parameters | Where-Object { $_.Name -notin $commonParameterNames } |
            Sort-Object @{ Expression = { if ($_.Position -ge 0) { $_.Position } elseif ($_.IsMandatory) { 1000 } else { 2000 } } }, @{ Expression = { $declared.IndexOf($_.Name) } }
        foreach ($sp in $ordered) {
            $parameter = $command.Parameters[$sp.Name]
            $attribute = [pscustomobject]@{ Mandatory = $sp.IsMandatory; Position = $sp.Position; ValueFromPipeline = $sp.ValueFromPipeline; ValueFromPipelineByPropertyName = $sp.ValueFromPipelineByPropertyName }
            Write-Parameter $parameter $attribute $parameterText[$sp.Name] -InSyntax
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $cmd)
    foreach ($p in ($parameters | Sort-Object Name)) {
        # Mandatory/position/pipeline as in the first set that has the parameter.
        $a = $p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] } | Select-Object -First 1
        $anyMandatory = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.Mandatory })
        $attribute = [pscustomobject]@{ Mandatory = $anyMandatory; Position = $a.Position; ValueFromPipeline = $a.ValueFromPipeline; ValueFromPipelineByPropertyName = $a.ValueFromPipelineByPropertyName }
        Write-Parameter $p $attribute $parameterText[$p.Name]
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'inputTypes', $cmd)
    foreach ($input in @($help.Inputs ?? @{ 'None' = 'This cmdlet takes no pipeline input.' }).GetEnumerator()) {
        $w.WriteStartElement('command', 'inputType', $cmd)
        $w.WriteStartElement('dev', 'type', $dev); $w.WriteElementString('maml', 'name', $maml, $input.Key); $w.WriteEndElement()
        Write-Description 'maml' $maml $input.Value
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'returnValues', $cmd)
    foreach ($output in @($help.Outputs ?? @{ 'None' = 'This cmdlet writes no output.' }).GetEnumerator()) {
        $w.WriteStartElement('command', 'returnValue', $cmd)
        $w.WriteStartElement('dev', 'type', $dev); $w.WriteElementString('maml', 'name', $maml, $output.Key); $w.WriteEndElement()
        Write-Description 'maml' $maml $output.Value
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $notes = (@($help.Notes) + @($common.Notes)) -join "`n`n"
    $w.WriteStartElement('maml', 'alertSet', $maml)
    $w.WriteStartElement('maml', 'alert', $maml)
    Write-Paras $notes
    $w.WriteEndElement()
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'examples', $cmd)
    $i = 0
    foreach ($example in $help.Examples) {
        $i++
        if (-not $example.Code -or -not $example.Remarks) { throw "$sourcePath example $i needs Code and Remarks" }
        $w.WriteStartElement('command', 'example', $cmd)
        $w.WriteElementString('maml', 'title', $maml, "-------------------------- Example ${i}: $($example.Title) --------------------------")
        $w.WriteElementString('dev', 'code', $dev, $example.Code.Trim())
        $w.WriteStartElement('dev', 'remarks', $dev)
        Write-Paras $example.Remarks
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'relatedLinks', $cmd)
    foreach ($link in @($help.Links)) {
        if (-not $link) { continue }
        $w.WriteStartElement('maml', 'navigationLink', $maml)
        $w.WriteElementString('maml', 'linkText', $maml, $link)
        $w.WriteElementString('maml', 'uri', $maml, '')
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteEndElement() # command:command
}

$w.WriteEndElement()
$w.WriteEndDocument()
$w.Flush()
$w.Dispose()
Write-Host "Help written to $file ($($commands.Count) cmdlets)"
