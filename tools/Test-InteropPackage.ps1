#requires -Version 7.4
<#
.SYNOPSIS
    Install tests of the PmpMail.Interop NuGet package (artifacts/PmpMail.Interop.<version>.nupkg, made by
    tools/New-InteropPackage.ps1): what is in it, and a C# app and a .NET Framework app that use it the way
    their developers would, against the emulator's demo tenant (`serve --demo --strict`).
.DESCRIPTION
    contents  The package holds exactly lib/net8.0 and lib/netstandard2.0 (PmpMail.Interop.dll + .xml),
              runtimes/<rid>/native/<library> (at least this machine's runtime), build/ and
              buildTransitive/net462/PmpMail.Interop.targets and README.md; no test files, no .pdb (they are in
              the .snupkg, which holds one per target); no absolute build path in the nuspec or any file; its
              version, and the assemblies' version, file version and informational version, are
              Get-PmpVersion; licence expression MIT, readme, repository metadata, dependencies as designed.
    nuget     A fresh `dotnet new console` app (the SDK's default framework) in a temp folder that references
              only PmpMail.Interop, from artifacts/ as a local feed (a temp nuget.config adds it to the
              machine's sources), built RID-less and run with `dotnet run` with no PMP_MAIL_NATIVE_PATH: it
              tests Mail.Send and sends a mail; the library must load from bin/runtimes/<rid>/native/ (the
              deps.json runtimeTargets). Then the same app published for this RID (the library flattened next
              to the app) sends a second mail.
    netfx     The same program as a net48 console app (reference assemblies from NuGet, built by the dotnet SDK),
              referencing the same package, run under Mono (installed with apt-get when missing, as root) with no
              file copied by hand: the permission test and a send succeed, the library loads from
              bin/runtimes/<rid>/native/. Then PMP_MAIL_NATIVE_PATH: a copy elsewhere is used, a wrong path
              fails with the error that lists it.
    Finally the emulator's control API must show exactly the messages sent, from the demo app.

    The temp nuget.config gives the apps their own global packages folder (so a package of the same version
    restored earlier is never reused) with the machine's global packages folder as a fallback folder and the
    machine's sources and HTTP cache as they are. Prints "N passed, M failed" and throws when anything failed.
.PARAMETER Part
    Which tests to run: contents, nuget, netfx (default: all).
.PARAMETER CargoProfile
    The cargo profile of the emulator binary (default: debug when built, else release).
.PARAMETER PackageDirectory
    The folder holding the package (default: artifacts/); also the local feed.
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Test-InteropPackage.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Test-InteropPackage.ps1 -Part contents,nuget
#>
[CmdletBinding()]
param(
    [ValidateSet('contents', 'nuget', 'netfx')]
    [string[]] $Part = @('contents', 'nuget', 'netfx'),
    [string] $CargoProfile,
    [string] $PackageDirectory
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')
Add-Type -AssemblyName System.IO.Compression.FileSystem

$repo = Get-PmpRepositoryRoot
$version = Get-PmpVersion
$native = Get-PmpNativeLibrary
if (-not $PackageDirectory) { $PackageDirectory = Join-Path $repo 'artifacts' }
$PackageDirectory = [System.IO.Path]::GetFullPath($PackageDirectory)
$packagePath = Join-Path $PackageDirectory "PmpMail.Interop.$version.nupkg"
$symbolsPath = Join-Path $PackageDirectory "PmpMail.Interop.$version.snupkg"
if (-not (Test-Path -LiteralPath $packagePath)) {
    throw "No ${packagePath}: run dotnet pwsh -NoProfile -File tools/New-InteropPackage.ps1 (or build.ps1 package) first"
}
$programSource = Join-Path $repo 'dotnet' 'PackageTests' 'SendFromPackage' 'Program.cs'

$checks = New-PmpCheckRun
$timings = [System.Collections.Generic.List[string]]::new()
function Check([string] $CheckName, [scriptblock] $CheckBody) {
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    Invoke-PmpCheck $checks $CheckName $CheckBody
    $timings.Add(('{0,7:N1} s  {1}' -f $watch.Elapsed.TotalSeconds, $CheckName))
}
$script:ok = $true
function Expect([bool] $Condition, [string] $What) {
    if (-not $Condition) { $script:ok = $false; Write-Host "   expected $What" -ForegroundColor Red }
}

function Invoke-App {
    <#
    Runs a program the way a user's shell would, but with none of the variables that could point the app
    at a native library (the test is that the package alone brings it), except those given in -Environment.
    Returns ExitCode, StandardOutput, StandardError; shows both.
    #>
    param(
        [Parameter(Mandatory)] [string] $Command,
        [string[]] $Arguments = @(),
        [string] $WorkingDirectory,
        [hashtable] $Environment = @{}
    )
    Invoke-NativeCapture $Command $Arguments -WorkingDirectory $WorkingDirectory -TimeoutSeconds 600 -Environment $Environment `
        -RemoveEnvironment 'PMP_MAIL_NATIVE_PATH', 'LD_LIBRARY_PATH', 'DYLD_LIBRARY_PATH', 'MONO_PATH', 'MONO_CONFIG'
}

function Get-LoadedLibraryPath([string] $Output) {
    <# The "native library file:" line the program prints on Linux (from /proc/self/maps), or $null. #>
    $m = [regex]::Match($Output, '(?m)^native library file: (.+?)\s*$')
    if ($m.Success) { $m.Groups[1].Value } else { $null }
}

function Test-SameFolder([string] $File, [string] $Folder) {
    [System.IO.Path]::GetFullPath((Split-Path $File -Parent)).TrimEnd('/', '\') -eq [System.IO.Path]::GetFullPath($Folder).TrimEnd('/', '\')
}

function New-ConsoleApp {
    <# A fresh `dotnet new console` app in $Folder with the test's Program.cs; returns its project file. #>
    param([string] $Folder)
    Invoke-Native dotnet @('new', 'console', '--name', 'SendFromPackage', '--output', $Folder) | Out-Host
    Copy-Item -LiteralPath $programSource -Destination (Join-Path $Folder 'Program.cs') -Force
    Join-Path $Folder 'SendFromPackage.csproj'
}

function Test-OnlyReference([string] $ProjectFile) {
    <# The app's project references exactly one package, PmpMail.Interop at this version. #>
    [xml] $xml = Get-Content -LiteralPath $ProjectFile -Raw
    $references = @($xml.SelectNodes('//PackageReference'))
    Write-Host "   package references: $(($references | ForEach-Object { "$($_.Include) $($_.Version)" }) -join ', ')"
    Expect ($references.Count -eq 1 -and $references[0].Include -eq 'PmpMail.Interop' -and $references[0].Version -eq $version) "only PmpMail.Interop $version referenced"
}

function Install-MonoPrerequisite {
    <#
    Mono for the .NET Framework app, from Debian's packages when missing: mono-runtime, and mono-devel for
    lib/mono/4.5/Facades/netstandard.dll, which a netstandard2.0 library needs at run time (Debian ships the
    facades only there; mono-complete would also do). As root, like build.ps1's Install-SystemPrerequisite.
    #>
    $facade = '/usr/lib/mono/4.5/Facades/netstandard.dll'
    if ((Get-Command mono -CommandType Application -ErrorAction SilentlyContinue) -and ($IsMacOS -or (Test-Path -LiteralPath $facade))) { return }
    if ($IsWindows) { return }
    $missing = 'Mono (mono-runtime and mono-devel on Debian/Ubuntu, or mono-complete) is needed to run the .NET Framework app'
    if (-not (Get-Command apt-get -CommandType Application -ErrorAction SilentlyContinue)) { throw "$missing; install it" }
    if ((id -u) -ne '0') { throw "$missing; install it: sudo apt-get install mono-runtime mono-devel" }
    Write-Host 'Installing mono-runtime and mono-devel (for the .NET Framework test)' -ForegroundColor Yellow
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & apt-get install -y -qq --no-install-recommends mono-runtime mono-devel *> $null
    if ($LASTEXITCODE -ne 0) {
        Invoke-Native apt-get @('update', '-qq')
        Invoke-Native apt-get @('install', '-y', '-qq', '--no-install-recommends', 'mono-runtime', 'mono-devel')
    }
}

$expectedSubjects = [System.Collections.Generic.List[string]]::new()
$runId = [guid]::NewGuid().ToString('n').Substring(0, 8)
$work = Join-Path ([System.IO.Path]::GetTempPath()) ("pmp-interop-package-$runId")
New-Item -ItemType Directory -Path $work | Out-Null
$emulator = $null
try {
    if ($Part -contains 'contents') {
        $zip = [System.IO.Compression.ZipFile]::OpenRead($packagePath)
        try {
            # Everything but the OPC parts every package has.
            $entries = @($zip.Entries | ForEach-Object FullName | Where-Object {
                    $_ -notin '[Content_Types].xml', '_rels/.rels', 'PmpMail.Interop.nuspec' -and $_ -notlike 'package/services/metadata/core-properties/*.psmdcp'
                } | Sort-Object)
            $nuspecEntry = $zip.GetEntry('PmpMail.Interop.nuspec')
            $reader = [System.IO.StreamReader]::new($nuspecEntry.Open())
            try { $nuspecText = $reader.ReadToEnd() } finally { $reader.Dispose() }
            $extracted = Join-Path $work 'package'
            [System.IO.Compression.ZipFileExtensions]::ExtractToDirectory($zip, $extracted)
        }
        finally { $zip.Dispose() }
        Write-Host "package entries:`n  $($entries -join "`n  ")"

        Check 'contents: exactly the libraries, docs, native libraries, targets and README' {
            $script:ok = $true
            $expected = @(
                'README.md',
                'build/net462/PmpMail.Interop.targets', 'buildTransitive/net462/PmpMail.Interop.targets',
                'lib/net8.0/PmpMail.Interop.dll', 'lib/net8.0/PmpMail.Interop.xml',
                'lib/netstandard2.0/PmpMail.Interop.dll', 'lib/netstandard2.0/PmpMail.Interop.xml'
            )
            $nativeEntries = @($entries | Where-Object { $_ -like 'runtimes/*' })
            $other = @($entries | Where-Object { $_ -notlike 'runtimes/*' })
            $missing = @($expected | Where-Object { $_ -notin $other })
            $extra = @($other | Where-Object { $_ -notin $expected })
            Expect ($missing.Count -eq 0) "no missing entry, missing: $($missing -join ', ')"
            Expect ($extra.Count -eq 0) "no other entry, got: $($extra -join ', ')"
            Expect ("runtimes/$($native.RuntimeIdentifier)/native/$($native.FileName)" -in $nativeEntries) "runtimes/$($native.RuntimeIdentifier)/native/$($native.FileName)"
            $libraryNames = 'pmp_mail.dll', 'libpmp_mail.so', 'libpmp_mail.dylib'
            foreach ($n in $nativeEntries) {
                Expect ($n -match '^runtimes/(win|linux|osx)-(x64|x86|arm64|arm)/native/([^/]+)$' -and $Matches[3] -in $libraryNames) "runtimes/<rid>/native/<pmp_mail library> only, got $n"
            }
            Expect (-not ($entries | Where-Object { $_ -match '(?i)\.pdb$|test|\.deps\.json$|\.runtimeconfig\.json$' })) 'no .pdb, test or app files'
            $script:ok
        }
        Check 'contents: nuspec metadata and version' {
            $script:ok = $true
            [xml] $nuspec = $nuspecText
            $ns = [System.Xml.XmlNamespaceManager]::new($nuspec.NameTable)
            $ns.AddNamespace('n', $nuspec.DocumentElement.NamespaceURI)
            $meta = $nuspec.SelectSingleNode('/n:package/n:metadata', $ns)
            $text = { param($path) $node = $meta.SelectSingleNode($path, $ns); if ($node) { $node.InnerText } else { $null } }
            Write-Host "   id $(& $text 'n:id'), version $(& $text 'n:version'), license $(& $text 'n:license'), readme $(& $text 'n:readme')"
            Expect ((& $text 'n:id') -ceq 'PmpMail.Interop') 'id PmpMail.Interop'
            Expect ((& $text 'n:version') -ceq $version) "version $version (Get-PmpVersion)"
            $license = $meta.SelectSingleNode('n:license', $ns)
            Expect ($license -and $license.GetAttribute('type') -eq 'expression' -and $license.InnerText -eq 'MIT') 'license expression MIT'
            Expect ((& $text 'n:readme') -ceq 'README.md') 'readme README.md'
            $repository = $meta.SelectSingleNode('n:repository', $ns)
            Expect ($repository -and $repository.GetAttribute('type') -eq 'git' -and $repository.GetAttribute('url') -and $repository.GetAttribute('commit') -match '^[0-9a-f]{40}$') 'repository type, url and commit'
            Expect ([bool](& $text 'n:description')) 'a description'
            $groups = @($meta.SelectNodes('n:dependencies/n:group', $ns))
            $net8 = @($groups | Where-Object { $_.GetAttribute('targetFramework') -eq 'net8.0' })
            $ns20 = @($groups | Where-Object { $_.GetAttribute('targetFramework') -eq '.NETStandard2.0' })
            Expect ($groups.Count -eq 2 -and $net8.Count -eq 1 -and $ns20.Count -eq 1) 'dependency groups net8.0 and .NETStandard2.0'
            if ($net8.Count -eq 1) { Expect ($net8[0].ChildNodes.Count -eq 0) 'no dependency for net8.0' }
            if ($ns20.Count -eq 1) {
                $ids = @($ns20[0].ChildNodes | ForEach-Object { $_.GetAttribute('id') })
                Expect ($ids.Count -eq 1 -and $ids[0] -eq 'System.Text.Json') "only System.Text.Json for netstandard2.0, got $($ids -join ', ')"
            }
            $script:ok
        }
        Check 'contents: assembly, file and informational versions are the package version' {
            $script:ok = $true
            $numeric = ($version -split '[-+]')[0] + '.0'   # 0.2.0 -> 0.2.0.0; a pre-release suffix is not numeric
            foreach ($tfm in 'net8.0', 'netstandard2.0') {
                $dll = Join-Path $extracted 'lib' $tfm 'PmpMail.Interop.dll'
                $assemblyVersion = [System.Reflection.AssemblyName]::GetAssemblyName($dll).Version
                $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($dll)
                Write-Host "   $tfm`: assembly $assemblyVersion, file $($info.FileVersion), informational $($info.ProductVersion)"
                Expect ($assemblyVersion -eq [version]$numeric) "$tfm assembly version $numeric"
                Expect ($info.FileVersion -eq $numeric) "$tfm file version $numeric"
                Expect ($info.ProductVersion -ceq $version) "$tfm informational version $version"
            }
            $script:ok
        }
        # Paths this build could leak: the repository, cargo's and NuGet's folders, the home folder, CI workspaces.
        $needles = [System.Collections.Generic.List[string]]@($repo, (Get-PmpTargetDirectory))
        foreach ($path in $env:HOME, $env:USERPROFILE, $env:CARGO_HOME, $env:NUGET_PACKAGES, '/root/', '/home/', '/tmp/', 'C:\Users\', 'D:\a\', '/Users/runner/') {
            if ($path -and $path.Length -gt 3) { $needles.Add($path) }
        }
        # One report per leak: a needle that extends another (/root/ of /root) is left out.
        $needles = @($needles | Select-Object -Unique)
        $needles = @($needles | Where-Object { $n = $_; -not ($needles | Where-Object { $_ -ne $n -and $n.StartsWith($_, [StringComparison]::Ordinal) }) })
        $latin1 = [System.Text.Encoding]::Latin1
        $packageFiles = @([pscustomobject]@{ Name = 'PmpMail.Interop.nuspec'; Text = $nuspecText }) +
            @(Get-ChildItem -LiteralPath $extracted -Recurse -File | Where-Object { $_.Name -notlike '*.psmdcp' -and $_.Name -ne '[Content_Types].xml' } | ForEach-Object {
                    [pscustomobject]@{ Name = [System.IO.Path]::GetRelativePath($extracted, $_.FullName).Replace('\', '/'); Text = $latin1.GetString([System.IO.File]::ReadAllBytes($_.FullName)) }
                })
        function Test-NoBuildPath($Files) {
            foreach ($f in $Files) {
                foreach ($needle in $needles) {
                    $at = $f.Text.IndexOf($needle, [StringComparison]::Ordinal)
                    if ($at -ge 0) {
                        $count = ([regex]::Matches($f.Text, [regex]::Escape($needle))).Count
                        $context = $f.Text.Substring($at, [Math]::Min(100, $f.Text.Length - $at)) -replace '[^\x20-\x7e]', '.'
                        Expect $false "no '$needle' in $($f.Name), found $count, the first: $context"
                    }
                }
            }
            Write-Host "   searched $(@($Files).Count) file(s) for: $($needles -join ', ')"
        }
        Check 'contents: no absolute build path in the nuspec, assemblies, docs, targets and README' {
            $script:ok = $true
            Test-NoBuildPath @($packageFiles | Where-Object { $_.Name -notlike 'runtimes/*' })
            # Positive evidence of the path map: the assemblies name their .pdb under /_/.
            foreach ($tfm in 'net8.0', 'netstandard2.0') {
                $text = $latin1.GetString([System.IO.File]::ReadAllBytes((Join-Path $extracted 'lib' $tfm 'PmpMail.Interop.dll')))
                Expect ($text.Contains("/_/dotnet/PmpMail.Interop/obj/Release/$tfm/PmpMail.Interop.pdb", [StringComparison]::Ordinal)) "the $tfm assembly's .pdb path mapped to /_/"
            }
            $script:ok
        }
        Check 'contents: no absolute build path in the native libraries' {
            $script:ok = $true
            Test-NoBuildPath @($packageFiles | Where-Object { $_.Name -like 'runtimes/*' })
            $script:ok
        }
        Check 'contents: the symbol package holds one .pdb per target' {
            $script:ok = $true
            Expect (Test-Path -LiteralPath $symbolsPath) "$symbolsPath"
            if (Test-Path -LiteralPath $symbolsPath) {
                $zip = [System.IO.Compression.ZipFile]::OpenRead($symbolsPath)
                try { $symbolEntries = @($zip.Entries | ForEach-Object FullName | Where-Object { $_ -like 'lib/*' } | Sort-Object) }
                finally { $zip.Dispose() }
                Write-Host "   $($symbolEntries -join ', ')"
                Expect (($symbolEntries -join ',') -ceq 'lib/net8.0/PmpMail.Interop.pdb,lib/netstandard2.0/PmpMail.Interop.pdb') 'lib/net8.0 and lib/netstandard2.0 PmpMail.Interop.pdb'
            }
            $script:ok
        }
    }

    if ($Part -contains 'nuget' -or $Part -contains 'netfx') {
        # The apps' feed and caches: artifacts/ added to the machine's sources; a global packages folder of
        # their own, with the machine's as a fallback (no re-download of what it has).
        $machinePackages = ((& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim()
        $fallback = ''
        if ($machinePackages -and (Test-Path -LiteralPath $machinePackages)) {
            if (Test-Path -LiteralPath (Join-Path $machinePackages 'pmpmail.interop' $version)) {
                Write-Warning "$machinePackages has a PmpMail.Interop $version of its own: not used as a fallback folder"
            }
            else {
                $fallback = "  <fallbackPackageFolders>`n    <add key=`"machine`" value=`"$([System.Security.SecurityElement]::Escape($machinePackages))`" />`n  </fallbackPackageFolders>`n"
            }
        }
        $config = @"
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config>
    <add key="globalPackagesFolder" value="$([System.Security.SecurityElement]::Escape((Join-Path $work 'packages')))" />
  </config>
  <packageSources>
    <add key="pmp-mail-artifacts" value="$([System.Security.SecurityElement]::Escape($PackageDirectory))" />
  </packageSources>
$fallback</configuration>
"@
        Set-Content -LiteralPath (Join-Path $work 'nuget.config') -Value $config -Encoding utf8NoBOM
        # Nothing from a Directory.Build.* above the temp folder reaches the apps.
        foreach ($name in 'Directory.Build.props', 'Directory.Build.targets') {
            Set-Content -LiteralPath (Join-Path $work $name) -Value '<Project />' -Encoding utf8NoBOM
        }

        $emulatorProfile = $CargoProfile
        if (-not $emulatorProfile) {
            $emulatorProfile = if (Test-Path -LiteralPath (Get-PmpEmulatorPath -CargoProfile debug)) { 'debug' } else { 'release' }
        }
        $emulator = Start-PmpEmulator -CargoProfile $emulatorProfile -Demo -Strict -StateDir (Join-Path $work 'state') `
            -StandardErrorPath (Join-Path $work 'emulator.err')
        $caPath = $emulator.CaPath
    }

    if ($Part -contains 'nuget') {
        $app = Join-Path $work 'net'
        Check 'nuget: a fresh console app references PmpMail.Interop from the local feed and builds RID-less' {
            $script:ok = $true
            $project = New-ConsoleApp $app
            Invoke-Native dotnet @('add', $project, 'package', 'PmpMail.Interop', '--version', $version)
            Test-OnlyReference $project
            Invoke-Native dotnet @('build', $project, '-nologo')
            $script:netOutput = (Get-ChildItem -LiteralPath (Join-Path $app 'bin' 'Debug') -Directory | Select-Object -First 1).FullName
            $copied = Join-Path $netOutput 'runtimes' $native.RuntimeIdentifier 'native' $native.FileName
            Expect (Test-Path -LiteralPath $copied) "the build copied $copied"
            $deps = Get-Content -LiteralPath (Join-Path $netOutput 'SendFromPackage.deps.json') -Raw | ConvertFrom-Json -AsHashtable
            $targets = @($deps.targets.Values | ForEach-Object { $_.GetEnumerator() } | Where-Object { $_.Key -eq "PmpMail.Interop/$version" } | ForEach-Object { $_.Value.runtimeTargets })
            $asset = "runtimes/$($native.RuntimeIdentifier)/native/$($native.FileName)"
            Write-Host "   deps.json runtimeTargets of PmpMail.Interop: $(($targets | ForEach-Object { $_.Keys }) -join ', ')"
            Expect ($targets.Count -ge 1 -and $targets[0].ContainsKey($asset) -and $targets[0][$asset].assetType -eq 'native') "deps.json lists $asset as a native runtime target"
            $script:ok
        }
        Check 'nuget: dotnet run, no PMP_MAIL_NATIVE_PATH: permission test and a send' {
            $script:ok = $true
            $subject = "pmp-mail package test: NuGet console app ($runId)"
            $run = Invoke-App dotnet @('run', '--no-build', '--project', (Join-Path $app 'SendFromPackage.csproj'), '--', $emulator.BaseUrl, $caPath, $subject)
            Expect ($run.ExitCode -eq 0) 'exit code 0'
            Expect ($run.StandardOutput -match "(?m)^native library: $([regex]::Escape($version))\s*$") "the native library's version $version"
            Expect ($run.StandardOutput -match '(?m)^  Mail\.Send Granted') 'Mail.Send Granted'
            $loaded = Get-LoadedLibraryPath $run.StandardOutput
            if ($IsLinux) { Expect ($loaded -and (Test-SameFolder $loaded (Join-Path $netOutput 'runtimes' $native.RuntimeIdentifier 'native'))) "the library loaded from the app's runtimes/$($native.RuntimeIdentifier)/native/, got $loaded" }
            if ($run.ExitCode -eq 0) { $expectedSubjects.Add($subject) }
            $script:ok
        }
        Check "nuget: the app published for $($native.RuntimeIdentifier) (library next to the app) sends" {
            $script:ok = $true
            $published = Join-Path $work 'net-publish'
            Invoke-Native dotnet @('publish', (Join-Path $app 'SendFromPackage.csproj'), '-nologo', '-r', $native.RuntimeIdentifier, '--self-contained', 'false', '-o', $published)
            Expect (Test-Path -LiteralPath (Join-Path $published $native.FileName)) "$($native.FileName) next to the published app"
            $subject = "pmp-mail package test: NuGet app published for $($native.RuntimeIdentifier) ($runId)"
            $run = Invoke-App dotnet @((Join-Path $published 'SendFromPackage.dll'), $emulator.BaseUrl, $caPath, $subject)
            Expect ($run.ExitCode -eq 0) 'exit code 0'
            $loaded = Get-LoadedLibraryPath $run.StandardOutput
            if ($IsLinux) { Expect ($loaded -and (Test-SameFolder $loaded $published)) "the library loaded from the publish folder, got $loaded" }
            if ($run.ExitCode -eq 0) { $expectedSubjects.Add($subject) }
            $script:ok
        }
    }

    if ($Part -contains 'netfx') {
        $app = Join-Path $work 'netfx'
        $netfxOutput = Join-Path $app 'bin' 'Debug' 'net48'
        $exe = Join-Path $netfxOutput 'SendFromPackage.exe'
        # Windows runs the .exe; elsewhere Mono runs it.
        $runner = if ($IsWindows) { @{ Command = $exe; Prefix = @() } } else { @{ Command = 'mono'; Prefix = @($exe) } }
        Check 'netfx: a net48 console app references PmpMail.Interop from the local feed and builds' {
            $script:ok = $true
            Install-MonoPrerequisite
            $project = New-ConsoleApp $app
            # What a developer changes in the template for .NET Framework 4.8: the framework, a C# version that
            # has `using var` (net48 defaults to 7.3), and no implicit usings (they name net8-only namespaces).
            # The reference assemblies come from NuGet (the SDK adds Microsoft.NETFramework.ReferenceAssemblies
            # when it has no targeting pack of its own). On Windows the SDK would make the exe x86, for which
            # no library ships: x64, as the package README says.
            [xml] $xml = Get-Content -LiteralPath $project -Raw
            $group = $xml.Project.PropertyGroup | Select-Object -First 1
            $group.TargetFramework = 'net48'
            $group.ImplicitUsings = 'disable'
            $lang = $xml.CreateElement('LangVersion'); $lang.InnerText = 'latest'; $null = $group.AppendChild($lang)
            if ($IsWindows) { $platform = $xml.CreateElement('PlatformTarget'); $platform.InnerText = 'x64'; $null = $group.AppendChild($platform) }
            $xml.Save($project)
            Invoke-Native dotnet @('add', $project, 'package', 'PmpMail.Interop', '--version', $version)
            Test-OnlyReference $project
            Invoke-Native dotnet @('build', $project, '-nologo')
            Expect (Test-Path -LiteralPath $exe) $exe
            $copied = Join-Path $netfxOutput 'runtimes' $native.RuntimeIdentifier 'native' $native.FileName
            Expect (Test-Path -LiteralPath $copied) "the package's build targets copied $copied"
            $script:ok
        }
        Check 'netfx: the app under Mono, no PMP_MAIL_NATIVE_PATH: permission test and a send' {
            $script:ok = $true
            $subject = "pmp-mail package test: .NET Framework app ($runId)"
            $run = Invoke-App $runner.Command @($runner.Prefix + @($emulator.BaseUrl, $caPath, $subject))
            Expect ($run.ExitCode -eq 0) 'exit code 0'
            Expect ($run.StandardOutput -match '(?m)^runtime: (Mono|\.NET Framework)') 'a .NET Framework-compatible runtime'
            Expect ($run.StandardOutput -match "(?m)^native library: $([regex]::Escape($version))\s*$") "the native library's version $version"
            Expect ($run.StandardOutput -match '(?m)^  Mail\.Send Granted') 'Mail.Send Granted'
            $loaded = Get-LoadedLibraryPath $run.StandardOutput
            if ($IsLinux) { Expect ($loaded -and (Test-SameFolder $loaded (Join-Path $netfxOutput 'runtimes' $native.RuntimeIdentifier 'native'))) "the library loaded from the app's runtimes/$($native.RuntimeIdentifier)/native/, got $loaded" }
            if ($run.ExitCode -eq 0) { $expectedSubjects.Add($subject) }
            $script:ok
        }
        Check 'netfx: PMP_MAIL_NATIVE_PATH pins another copy; a wrong one fails naming the path' {
            $script:ok = $true
            # The copy NuGet extracted into the apps' packages folder: a file this app's folder does not hold.
            $elsewhere = Join-Path $work 'packages' 'pmpmail.interop' $version 'runtimes' $native.RuntimeIdentifier 'native'
            $run = Invoke-App $runner.Command @($runner.Prefix + @('--version')) -Environment @{ PMP_MAIL_NATIVE_PATH = $elsewhere }
            Expect ($run.ExitCode -eq 0) 'exit code 0 with PMP_MAIL_NATIVE_PATH set to a folder'
            $loaded = Get-LoadedLibraryPath $run.StandardOutput
            if ($IsLinux) { Expect ($loaded -and (Test-SameFolder $loaded $elsewhere)) "the library loaded from $elsewhere, got $loaded" }
            $wrong = Join-Path $work 'no-such-folder' $native.FileName
            $run = Invoke-App $runner.Command @($runner.Prefix + @('--version')) -Environment @{ PMP_MAIL_NATIVE_PATH = $wrong }
            Expect ($run.ExitCode -eq 3) 'exit code 3 (DllNotFoundException)'
            Expect ($run.StandardError.Contains("$wrong (not found)", [StringComparison]::Ordinal) -and $run.StandardError.Contains('PMP_MAIL_NATIVE_PATH is set, so nothing else was tried', [StringComparison]::Ordinal)) 'the error names the path tried and says nothing else was'
            $script:ok
        }
    }

    if ($emulator) {
        Check "emulator: exactly the $($expectedSubjects.Count) messages sent, from the demo app" {
            $script:ok = $true
            $messages = @(Invoke-PmpEmulatorControl $emulator 'messages')
            $subjects = @($messages | ForEach-Object subject | Sort-Object -Culture '')
            Write-Host "   subjects: $($subjects | ConvertTo-Json -Compress)"
            Expect ($expectedSubjects.Count -gt 0) 'at least one message sent'
            Expect ($messages.Count -eq $expectedSubjects.Count) "$($expectedSubjects.Count) messages, got $($messages.Count)"
            foreach ($subject in $expectedSubjects) {
                Expect (@($messages | Where-Object { $_.subject -ceq $subject }).Count -eq 1) "exactly one '$subject'"
            }
            foreach ($m in $messages) {
                Expect ($m.mailbox -ceq 'alerts@contoso.onmicrosoft.com') "mailbox alerts@contoso.onmicrosoft.com, got '$($m.mailbox)'"
                Expect ($m.appId -ceq '22222222-2222-2222-2222-222222222222') "the demo app, got '$($m.appId)'"
                $to = @($m.to | ForEach-Object address)
                Expect ($to.Count -eq 1 -and $to[0] -ceq 'ops@contoso.com') "To ops@contoso.com on '$($m.subject)'"
            }
            $counters = Invoke-PmpEmulatorControl $emulator 'counters'
            Expect ($counters.messagesAccepted -eq $expectedSubjects.Count) "messagesAccepted = $($expectedSubjects.Count), got $($counters.messagesAccepted)"
            $script:ok
        }
    }
}
finally {
    Stop-PmpEmulator $emulator
    Show-PmpEmulatorLog $checks $emulator
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
Write-Host ''
Write-Host 'time per check:'
$timings | ForEach-Object { Write-Host $_ }
Complete-PmpCheckRun $checks 'interop-package'
